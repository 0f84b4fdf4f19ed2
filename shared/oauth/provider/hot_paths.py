"""The provider's busiest requests on the event loop: the client-credentials
and authorization-code grants, token introspection, and the authorization
endpoint (a browser's first request and its return after the login).

Authlib's grants and endpoints are synchronous and call back into storage.
For these requests everything they read is known from the request before
Authlib runs (the client's row, the presented token's or code's row, the
nonce, the browser's login and the subject's claims) and all they write is a
new token or code row. So: read those rows asynchronously, run Authlib's
unchanged grant or endpoint on a :class:`PrefetchedStore` (no I/O, so it
runs on the loop without blocking it), then write what it saved. The
protocol decisions are still Authlib's and :mod:`.grants`', exactly as on
the general path; only the storage calls moved. A code is claimed in the
same transaction that writes its tokens, with the general path's
conditional UPDATE, so it stays single-use under concurrency.

Introspection of a token with a subject needs the subject's claims from the
service's account tables: it runs in a worker thread with a session, still on
the rows already read. Everything else (the refresh grant, a code presented
again, client assertions and DPoP proofs, whose jti is written in the
request's transaction; revocation; userinfo; pushed requests and request
objects; a login or subject the service's hook reads only in a session)
keeps the general path: a synchronous session in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.concurrency import run_in_threadpool

from shared.clock import Clock
from shared.metrics import TOKENS_ISSUED, labelled
from shared.oauth.adapter import AuthlibResponse, StarletteOAuth2Request
from shared.oauth.provider.async_store import AsyncpgStore, AsyncProviderStore, ThreadedStore
from shared.oauth.provider.errors import NotPrefetched
from shared.oauth.provider.interaction import Interaction
from shared.oauth.provider.models import AuthorizationCode, Client, Principal, Token
from shared.oauth.provider.outcomes import Decision, ErrorPage, Respond
from shared.oauth.provider.store import code_from_row, code_values, token_from_row, token_values
from shared.randomness import hash_secret

__all__ = ["HotPaths", "PrefetchedStore", "NotPrefetched"]


class PrefetchedStore:
    """The part of :class:`~.store.ProviderStore` these requests use, from
    rows read beforehand; new token rows are kept in ``pending``, new code
    rows in ``pending_codes``."""

    def __init__(
        self,
        clock: Clock,
        *,
        clients: dict[str, Client | None],
        tokens: dict[tuple[str, str], Token | None] | None = None,
        nonces: dict[tuple[str, str], bool] | None = None,
        codes: dict[tuple[str, str], AuthorizationCode | None] | None = None,
        profiles: dict[str, dict[str, Any] | None] | None = None,
    ):
        self.clock = clock
        self.clients = clients
        self.tokens = tokens or {}
        self.nonces = nonces or {}
        self.codes = codes or {}
        self.profiles = profiles or {}
        self.pending: list[dict[str, Any]] = []
        self.pending_codes: list[dict[str, Any]] = []
        self.issued: list[str] = []  # the grant type of each token in ``pending``
        # Codes the grant claimed: claimed for real with the token rows (claim_code_and_insert).
        self.claimed: list[int] = []

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

    def count_issued(self, grant_type: str) -> None:
        self.issued.append(grant_type)

    def count_written(self) -> None:
        """``oauth_tokens_issued_total`` for the tokens in ``pending``, once they are written."""
        for grant_type in self.issued:
            labelled(TOKENS_ISSUED, grant_type).inc()

    def save_code(self, **fields: Any) -> None:
        self.pending_codes.append(code_values(now=self.clock.now(), **fields))

    def find_code(self, *, code: str, client_id: str) -> AuthorizationCode | None:
        if (code, client_id) not in self.codes:
            raise NotPrefetched("code")
        return self.codes[(code, client_id)]

    def claim_code(self, *, code_id: int) -> bool:
        self.claimed.append(code_id)
        return True

    def profile_claims(self, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        if subject not in self.profiles:
            raise NotPrefetched("profile claims")
        return self.profiles[subject]

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
        client = cache.client(client_id)
        if client is not None:
            return client
        row = await self.store.client_row(client_id)
        if row is None:
            return None
        row = tuple(row)
        return cache.keep(client_id, row)

    async def _clients(self, req: StarletteOAuth2Request) -> dict[str, Client | None]:
        return {client_id: await self.client(client_id) for client_id in requesting_client_ids(req)}

    async def token(self, req: StarletteOAuth2Request) -> AuthlibResponse:
        # A client assertion's jti is written in the request's transaction
        # (client_assertions): the general path, which has one.
        # So is a DPoP proof's jti.
        grant_type = req.form.get("grant_type")
        if "client_assertion" in req.form or "dpop" in req.headers:
            return await run_in_threadpool(self.provider.token, req)
        if grant_type == "authorization_code":
            response = await self._code_grant(req)
            return response if response is not None else await run_in_threadpool(self.provider.token, req)
        if grant_type != "client_credentials":
            return await run_in_threadpool(self.provider.token, req)
        prefetched = PrefetchedStore(self.config.clock, clients=await self._clients(req))
        response = self.provider.bind_on_loop(prefetched).server.create_token_response(req)
        if response.status_code < 400:
            for values in prefetched.pending:
                await self.store.insert_token(values)
            prefetched.count_written()
        return response

    async def _code_grant(self, req: StarletteOAuth2Request) -> AuthlibResponse | None:
        """The code's redemption: the code row and its subject's claims read
        first, Authlib's grant on them, then the claim of the code and the
        new tokens in one statement. None (the general path) for a code
        already used (its replay revokes, a write the general path makes), a
        subject the service's hook reads only there, a signing key not in the
        cache, or a claim lost to a concurrent redemption."""
        if not self.config.hooks.claims_on_loop:
            return None
        clients = await self._clients(req)
        code = req.form.get("code")
        codes: dict[tuple[str, str], AuthorizationCode | None] = {}
        profiles: dict[str, dict[str, Any] | None] = {}
        for client_id, client in clients.items():
            if client is None or not code:
                continue
            row = await self.store.code_row(hash_secret(code), client_id)
            item = codes[(code, client_id)] = None if row is None else code_from_row(row)
            if item is not None and item.used_at is not None:
                return None
            if item is not None and item.subject is not None and item.subject not in profiles:
                try:
                    profiles[item.subject] = await self.config.hooks.aprofile_claims(
                        self.provider.reads, subject=item.subject, context=item.context
                    )
                except NotPrefetched:
                    return None
        if self.config.keys.cached_current() is None:
            await run_in_threadpool(self.provider.jwks)  # reads the keys into the cache (every cache_seconds)
        prefetched = PrefetchedStore(self.config.clock, clients=clients, codes=codes, profiles=profiles)
        try:
            response = self.provider.bind_on_loop(prefetched).server.create_token_response(req)
        except NotPrefetched:
            return None
        if response.status_code >= 400:
            return response
        (code_id,) = prefetched.claimed
        if not await self.store.claim_code_and_insert(code_id, self.config.clock.now(), prefetched.pending):
            return None
        prefetched.count_written()
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

    async def authorize(self, req: StarletteOAuth2Request, *, resumed: Interaction | None = None) -> Respond | ErrorPage | Decision | None:
        """An authorization request decided on the event loop: a browser's
        first request, or its return after the login (``resumed``). The same
        decision as the general path (``Provider.authorize``, through
        ``Provider.decide``), on rows read first: the client (cached), whether
        the nonce was used before, and the login through the service's
        ``asession_principal``; a new code is written on asyncpg before the
        browser is sent on with it. None: this request needs the general path
        (a pushed request or a request object to resolve, a login the hook
        cannot read here, or a read not made here)."""
        data = req.payload.data
        if "request" in data or "request_uri" in data:
            return None
        if not self.config.hooks.logins_on_loop and self.config.hooks.holds_login(req.session):
            return None
        try:
            # The login and the request's rows are independent reads: together.
            principal, prefetched = await asyncio.gather(self._session_principal(req), self._prefetched_for_authorization(req))
        except NotPrefetched:
            return None
        if resumed is not None:
            req.pushed = True  # judged when it arrived, then parked (as on the general path)
        server = self.provider.bind_on_loop(prefetched).server
        try:
            decided = self.provider.decide(server, req, principal, resumed=resumed)
        except NotPrefetched:
            return None
        for values in prefetched.pending_codes:
            await self.store.insert_code(values)
        return decided

    async def _session_principal(self, req: StarletteOAuth2Request) -> Principal | None:
        hooks = self.config.hooks
        return await hooks.asession_principal(self.provider.reads, req.session) if hooks.holds_login(req.session) else None

    async def _prefetched_for_authorization(self, req: StarletteOAuth2Request) -> PrefetchedStore:
        client_id = req.payload.client_id
        clients = {client_id: await self.client(client_id)} if client_id else {}
        nonces = {}
        if (nonce := req.payload.data.get("nonce")) and clients.get(client_id) is not None:
            nonces[(client_id, nonce)] = await self.store.nonce_seen(client_id, nonce)
        return PrefetchedStore(self.config.clock, clients=clients, nonces=nonces)

    def _introspect_with_session(self, prefetched: PrefetchedStore, req: StarletteOAuth2Request) -> AuthlibResponse:
        with self.provider.db.session() as session:
            return self.provider.bind(session, store=prefetched).server.create_endpoint_response("introspection", req)
