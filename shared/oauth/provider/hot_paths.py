"""The client-credentials grant and token introspection on the event loop.

Authlib's grants and endpoints are synchronous and call back into storage.
For these two requests everything they read is known from the request
before Authlib runs (the client's row, the presented token's row) and all
they write is one new token row. So: read those rows asynchronously, run
Authlib's unchanged grant or endpoint on a :class:`PrefetchedStore` (no I/O,
so it runs on the loop without blocking it), then write what it saved. The
protocol decisions are still Authlib's and :mod:`.grants`', exactly as on
the general path; only the storage calls moved.

Introspection of a token with a subject needs the subject's claims from the
service's account tables: it runs in a worker thread with a session, still on
the rows already read. Everything else (code and refresh grants, which claim
rows under concurrency; revocation; userinfo) keeps the general path: a
synchronous session in a worker thread.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.concurrency import run_in_threadpool

from shared.clock import Clock
from shared.oauth.adapter import AuthlibResponse, StarletteOAuth2Request
from shared.oauth.provider.async_store import AsyncpgStore, AsyncProviderStore, ThreadedStore
from shared.oauth.provider.models import Client, Token
from shared.oauth.provider.outcomes import ErrorPage, Login, Respond
from shared.oauth.provider.store import client_from_row, token_from_row, token_values
from shared.randomness import hash_secret

__all__ = ["HotPaths", "PrefetchedStore"]


class NotPrefetched(LookupError):
    """A grant asked storage for something the hot path did not read first."""


class PrefetchedStore:
    """The part of :class:`~.store.ProviderStore` these requests use, from
    rows read beforehand; new token rows are kept in ``pending``."""

    def __init__(
        self,
        clock: Clock,
        *,
        clients: dict[str, Client | None],
        tokens: dict[tuple[str, str], Token | None] | None = None,
        nonces: dict[tuple[str, str], bool] | None = None,
    ):
        self.clock = clock
        self.clients = clients
        self.tokens = tokens or {}
        self.nonces = nonces or {}
        self.pending: list[dict[str, Any]] = []

    def get_client(self, client_id: str) -> Client | None:
        if client_id not in self.clients:
            raise NotPrefetched(f"client {client_id!r}")
        return self.clients[client_id]

    def find_token(self, *, access_token: str | None = None, refresh_token: str | None = None) -> Token | None:
        key = ("access", access_token) if access_token is not None else ("refresh", refresh_token)
        if key not in self.tokens:
            raise NotPrefetched(f"{key[0]} token")
        return self.tokens[key]

    def nonce_seen(self, *, client_id: str, nonce: str) -> bool:
        if (client_id, nonce) not in self.nonces:
            raise NotPrefetched("nonce")
        return self.nonces[(client_id, nonce)]

    def save_token(self, **fields: Any) -> None:
        self.pending.append(token_values(now=self.clock.now(), **fields))

    def __getattr__(self, name: str) -> Any:
        # Any other storage call would be I/O on the event loop: a bug here.
        raise NotPrefetched(name)


def requesting_client_ids(req: StarletteOAuth2Request) -> set[str]:
    """Every client id the request may authenticate as (Basic header, form)."""
    ids = set()
    basic_id, _ = extract_basic_authorization(req.headers)
    if basic_id:
        ids.add(basic_id)
    if form_id := req.form.get("client_id"):
        ids.add(form_id)
    return ids


class HotPaths:
    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.config = provider.config
        reads = provider.reads
        # The service's pool (shared.db_async), opened by the app's lifespan;
        # until then, after it, or in another loop (an in-process test client
        # outside the lifespan) the synchronous engine in a thread.
        self._threaded = ThreadedStore(provider.db, provider.config.tables)
        self._asyncpg = AsyncpgStore(reads, provider.config.tables) if provider.db.engine.dialect.name == "postgresql" else None

    @property
    def store(self) -> AsyncProviderStore:
        if self._asyncpg is not None and self.provider.reads.on_loop:
            return self._asyncpg
        return self._threaded

    async def client(self, client_id: str) -> Client | None:
        cache = self.provider.clients
        row = cache.get(client_id)
        if row is None:
            row = await self.store.client_row(client_id)
            if row is None:
                return None
            row = tuple(row)
            cache.put(client_id, row)
        return client_from_row(row)

    async def _clients(self, req: StarletteOAuth2Request) -> dict[str, Client | None]:
        return {client_id: await self.client(client_id) for client_id in requesting_client_ids(req)}

    async def token(self, req: StarletteOAuth2Request) -> AuthlibResponse:
        # A client assertion's jti is written in the request's transaction
        # (client_assertions): the general path, which has one.
        # So is a DPoP proof's jti.
        if req.form.get("grant_type") != "client_credentials" or "client_assertion" in req.form or "dpop" in req.headers:
            return await run_in_threadpool(self.provider.token, req)
        prefetched = PrefetchedStore(self.config.clock, clients=await self._clients(req))
        response = self.provider.bind_on_loop(prefetched).server.create_token_response(req)
        if response.status_code < 400:
            for values in prefetched.pending:
                await self.store.insert_token(values)
        return response

    async def introspect(self, req: StarletteOAuth2Request) -> AuthlibResponse:
        token_string = req.form.get("token")
        tokens: dict[tuple[str, str], Token | None] = {}
        found: Token | None = None
        # An empty token is a token too (one that matches nothing): Authlib asks
        # storage for it like any other, so it is read first like any other.
        if token_string is not None:
            kinds = ("refresh", "access") if req.form.get("token_type_hint") == "refresh_token" else ("access", "refresh")
            now = self.config.clock.now()
            for kind in kinds:
                row = await self.store.token_row(kind, hash_secret(token_string))
                found = tokens[(kind, token_string)] = None if row is None else token_from_row(row, kind, now=now)
                if found is not None:
                    break
        prefetched = PrefetchedStore(self.config.clock, clients=await self._clients(req), tokens=tokens)
        if found is not None and found.subject is not None:
            # A subject's claims come from the service's own tables, through a
            # synchronous session: in a thread, but on the rows already read.
            return await run_in_threadpool(self._introspect_with_session, prefetched, req)
        return self.provider.bind_on_loop(prefetched).server.create_endpoint_response("introspection", req)

    async def authorize(self, req: StarletteOAuth2Request) -> Login | Respond | ErrorPage | None:
        """A browser's first authorization request, when its session names no
        login: valid, it goes to the login page; invalid, to the client or the
        error page, as on the general path (``Provider.authorize``, which
        decides the same for a request without a principal). All it reads is
        the client (cached) and whether the nonce was used before; all it
        writes is the parked interaction. None: this request needs the
        general path (a login to look up, a pushed request or a request
        object to resolve, or a read not made here)."""
        data = req.payload.data
        if "request" in data or "request_uri" in data or self.config.hooks.holds_login(req.session):
            return None
        client_id = req.payload.client_id
        clients = {client_id: await self.client(client_id)} if client_id else {}
        nonces = {}
        if (nonce := data.get("nonce")) and clients.get(client_id) is not None:
            nonces[(client_id, nonce)] = await self.store.nonce_seen(client_id, nonce)
        prefetched = PrefetchedStore(self.config.clock, clients=clients, nonces=nonces)
        server = self.provider.bind_on_loop(prefetched).server
        try:
            grant = server.get_consent_grant(req, end_user=None)
        except OAuth2Error as error:
            return self.provider.refused(server, req, error)
        except NotPrefetched:
            return None
        interaction = await self.provider.interactions.acreate(**self.provider.parked_fields(req, grant))
        return Login(interaction=interaction, url=self.config.hooks.login_url(interaction.id))

    def _introspect_with_session(self, prefetched: PrefetchedStore, req: StarletteOAuth2Request) -> AuthlibResponse:
        with self.provider.db.session() as session:
            return self.provider.bind(session, store=prefetched).server.create_endpoint_response("introspection", req)
