"""The provider's operations (hydra's "strategy"): authorization with its
interaction hand-off, token, introspection, revocation, userinfo, logout,
discovery and JWKS. Framework-free: routes turn the outcomes into pages.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidClientError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.errors import LoginRequiredError
from joserfc import jwt
from sqlalchemy.orm import Session

from shared.clock import Clock
from shared.db import Database
from shared.db_async import AsyncReads
from shared.kvstore import KeyValueStore
from shared.oauth.adapter import AuthlibResponse, StarletteAuthorizationServer, StarletteOAuth2Request
from shared.oauth.provider.client_assertions import PRIVATE_KEY_JWT, PrivateKeyJwt
from shared.oauth.provider.client_keys import CLIENT_SIGNING_ALGORITHMS, ClientKeys
from shared.oauth.provider.dpop import DPOP_ALGORITHMS, InvalidDPoPProofError, NonceSource, ProofChecker
from shared.oauth.provider.errors import NotPrefetched, UnmetAuthenticationRequirementsError
from shared.oauth.provider.grants import (
    CLIENT_AUTH,
    DPOP_BINDING,
    SECRET_AUTH,
    AuthorizationRequestPolicy,
    ClientCredentialsGrant,
    CodeGrant,
    ProviderEndSession,
    ProviderIntrospection,
    ProviderOpenIDCode,
    ProviderRevocation,
    ProviderUserInfo,
    RefreshGrant,
    S256CodeChallenge,
    bearer_protector,
)
from shared.oauth.provider.hooks import ProviderHooks
from shared.oauth.provider.hot_paths import HotPaths
from shared.oauth.provider.interaction import Interaction, Interactions, essential_acr, is_stale
from shared.oauth.provider.keys import KeyManager, SigningKey
from shared.oauth.provider.logout_outbox import LogoutOutbox, OutboxDepth, OutboxNotice
from shared.oauth.provider.models import Client, Principal, Token
from shared.oauth.provider.outcomes import ConfirmLogout, Decision, ErrorPage, Login, Respond, Unmet
from shared.oauth.provider.pushed import PushedRequests
from shared.oauth.provider.request_objects import RequestObjects
from shared.oauth.provider.store import ClientCache, ProviderStore
from shared.oauth.provider.tables import ProviderTables
from shared.randomness import TokenSource
from shared.settings import ID_TOKEN_SIGNING_ALGORITHMS, ClientConfig, ProviderSettings
from shared.trust import TrustLevel

__all__ = [
    "ProviderConfig",
    "EndpointPaths",
    "Provider",
    "ProviderRuntime",
    "BoundProvider",
    "Respond",
    "ErrorPage",
    "Login",
    "Unmet",
    "ConfirmLogout",
    "Decision",
    "authenticated_by",
]

log = logging.getLogger("oauth.provider")


# Form fields that authenticate a client (RFC 6749 §2.3.1, RFC 7521 §4.2).
_CLIENT_CREDENTIALS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


class ProviderRuntime(Protocol):
    """What a provider is built on: the service's injected parts
    (shared.web.app.Runtime has them)."""

    db: Database
    reads: AsyncReads
    kv: KeyValueStore
    clock: Clock
    tokens: TokenSource


@dataclass(frozen=True)
class EndpointPaths:
    """Paths below the issuer URL (the issuer may itself have a path, /isso)."""

    authorization: str = "/authorize"
    token: str = "/token"
    userinfo: str = "/userinfo"
    introspection: str = "/introspect"
    revocation: str = "/revoke"
    jwks: str = "/jwks.json"
    end_session: str = "/logout"
    pushed_authorization: str = "/par"


@dataclass
class ProviderConfig:
    issuer: str
    tables: ProviderTables
    clock: Clock
    tokens: TokenSource
    kv: KeyValueStore
    keys: KeyManager
    hooks: ProviderHooks
    paths: EndpointPaths = field(default_factory=EndpointPaths)
    code_ttl: int = 60
    access_token_ttl: int = 900
    refresh_token_ttl: int = 8 * 3600
    id_token_ttl: int = 600
    interaction_ttl: int = 900
    scopes_supported: tuple[str, ...] = ("openid", "profile")
    # claim -> the scope a token needs for it to be released
    scoped_claims: dict[str, str] = field(default_factory=dict)
    # Back-channel logout notices: given up when still undelivered after this
    # long, retried at most this far apart (shared.oauth.provider.logout_outbox).
    logout_notice_max_age: int = 24 * 3600
    logout_retry_max_delay: int = 900
    claims_supported: tuple[str, ...] = ("sub", "acr", "amr", "auth_time", "trust_level")
    # RFC 9126: PAR required of every client (else per client), and how long a request_uri lives.
    require_pushed_authorization_requests: bool = False
    par_ttl: int = 60
    dpop_nonce_required: bool = False
    nonce_secret: str = ""  # keys the stateless DPoP nonces (the service's secret key)


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def authenticated_by(subject: str, context: dict[str, Any]) -> str:
    """Who authenticated a login: the person acting for the subject (``act``,
    RFC 8693 style: a handler logged in for a unit), else the subject itself."""
    act = context.get("act")
    if isinstance(act, dict) and act.get("sub"):
        return str(act["sub"])
    return subject


_DENIALS: dict[str, type[OAuth2Error]] = {
    "unmet_authentication_requirements": UnmetAuthenticationRequirementsError,
    "access_denied": AccessDeniedError,
    "login_required": LoginRequiredError,
}


class _Issuer(IssuerParameter):
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class _ProviderServer(StarletteAuthorizationServer):
    """Authlib's server, reading storage through the request it is bound to."""

    bound: BoundProvider

    def query_client(self, client_id: str) -> Client | None:
        return self.bound.store.get_client(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        self.bound.save_token(token, request)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Client:
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            # Authlib lists every method the endpoint accepts, which reads as
            # if the client might use any of them: name the one it is
            # registered for, once its credentials proved it is that client.
            registered = self._registered_method(request, methods)
            error.description = f"client must authenticate with {registered}" if registered else "client authentication failed"
            raise

    def _registered_method(self, request: Any, methods: list[str]) -> str | None:
        """The client's registered method, when valid credentials came by another of ``methods``."""
        # "none" proves nothing (a client id alone), so it never reveals the method.
        for method in (m for m in methods if m != "none"):
            try:
                client = self._client_auth._methods[method](self.query_client, request)
            except InvalidClientError:
                continue
            if client is not None and client.token_endpoint_auth_method in methods:
                return client.token_endpoint_auth_method
        return None


class BoundProvider:
    """The provider bound to one database session (and one request)."""

    def __init__(
        self,
        provider: Provider,
        session: Session | None,
        request: StarletteOAuth2Request | None,
        *,
        store: Any = None,
        server: StarletteAuthorizationServer | None = None,
    ) -> None:
        """``store``: what the grants read and write through, if not a
        :class:`ProviderStore` on ``session`` (the hot paths' prefetched rows).
        ``server``: an Authlib server to bind to this request instead of
        building one (the event loop's, see :meth:`Provider.bind_on_loop`)."""
        self.provider = provider
        self.config = provider.config
        self.session = session
        self.store = store or ProviderStore(session, provider.config.tables, provider.config.clock, clients=provider.clients)
        # Outbox rows this request wrote, tried once the caller has committed.
        self.logout_notices: list[int] = []
        self.server = self._attach(server) if server is not None else self._build_server(request)

    def _attach(self, server: StarletteAuthorizationServer) -> StarletteAuthorizationServer:
        # The server's query_client/save_token read ``server.bound`` at each
        # call (see _ProviderServer): Authlib keeps the first query_client it
        # sees inside its ClientAuthentication, so a bound method of one
        # request must never be handed to a server that serves others.
        server.bound = self
        return server

    def _build_server(self, request: StarletteOAuth2Request | None) -> StarletteAuthorizationServer:
        server = self._attach(_ProviderServer(scopes_supported=list(self.config.scopes_supported)))
        server.register_token_generator("default", self.generate_token)
        server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJwt(server))
        policy = AuthorizationRequestPolicy(require_pushed=self.config.require_pushed_authorization_requests)
        server.register_grant(CodeGrant, [policy, S256CodeChallenge(required=True), ProviderOpenIDCode(require_nonce=False), DPOP_BINDING])
        server.register_grant(RefreshGrant, [DPOP_BINDING])
        server.register_grant(ClientCredentialsGrant, [DPOP_BINDING])
        server.register_extension(self.provider.issuer_param)
        server.register_endpoint(ProviderIntrospection)
        server.register_endpoint(ProviderRevocation)
        server.register_endpoint(ProviderEndSession)
        if request is not None:
            server.register_endpoint(ProviderUserInfo(server, bearer_protector(self, request)))
        return server

    # -- callbacks used by the grants ----------------------------------------
    def generate_token(
        self,
        grant_type: str,
        client: Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        tokens = self.config.tokens
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": tokens.token(32),
            "expires_in": expires_in or self.config.access_token_ttl,
        }
        if scope:
            token["scope"] = scope
        if include_refresh_token and user is not None:
            token["refresh_token"] = tokens.token(32)
        return token

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        user: Principal | None = request.user
        old: Token | None = request.refresh_token
        # Counted by the store once the row is written: a grant the hot path
        # gives up after this (a claim lost to a concurrent redemption) is
        # granted again on the general path, and counted there only.
        self.store.count_issued(request.payload.grant_type or "unknown")
        code = request.authorization_code
        self.store.save_token(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            client_id=request.client.client_id,
            subject=user.sub if user else None,
            scope=token.get("scope", ""),
            expires_in=int(token["expires_in"]),
            refresh_ttl=self.config.refresh_token_ttl,
            # Rotation never extends a grant: the new refresh token ends when the first did.
            refresh_expires_at=old.refresh_expires_at if old else None,
            family_id=old.family_id if old else None,
            authorization_code_id=code.id if code else (old.authorization_code_id if old else None),
            auth_time=user.auth_time if user else None,
            acr=user.acr if user else None,
            amr=user.amr if user else [],
            sid=user.context.get("sid") if user else None,
            context=user.context if user else {},
            dpop_jkt=request.dpop_jkt,
        )
        if request.dpop_jkt:
            # RFC 9449 §5: the response names the binding; Authlib sends this dict as generated.
            token["token_type"] = "DPoP"

    def principal_for(
        self, *, subject: str | None, acr: str | None, amr: list[str], auth_time: int | None, context: dict[str, Any]
    ) -> Principal | None:
        if subject is None:
            return None
        if self.session is None:
            # On the event loop (bind_on_loop): the claims the hot path read first.
            claims = self.store.profile_claims(subject=subject, context=context)
        else:
            claims = self.config.hooks.profile_claims(self.session, subject=subject, context=context)
        if claims is None:
            return None
        return Principal(sub=subject, claims=claims, acr=acr, amr=amr, auth_time=auth_time or 0, context=context)

    def subject_claims(self, principal: Principal, scope: str | None) -> dict[str, Any]:
        """DESIGN.md § Claims: what ID token, userinfo and introspection say.

        A claim listed in ``scoped_claims`` (an ID number) is released only
        when the token's scope includes the scope it needs, which only a
        client registered for that scope can obtain."""
        granted = set((scope or "").split())
        claims = {"sub": principal.sub}
        claims.update(
            (name, value)
            for name, value in principal.claims.items()
            if self.config.scoped_claims.get(name) is None or self.config.scoped_claims[name] in granted
        )
        level = principal.trust_level
        if principal.acr:
            claims["acr"] = principal.acr
        if level is not None:
            claims["trust_level"] = level.name
        claims["amr"] = list(principal.amr)
        claims["auth_time"] = principal.auth_time
        if act := principal.context.get("act"):
            claims["act"] = act
        if sid := principal.context.get("sid"):
            claims["sid"] = sid
        return claims

    def find_any_token(self, token_string: str, hint: str | None) -> Token | None:
        order = ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
        for kind in order:
            found = self.store.find_token(**{f"{kind}_token": token_string})
            if found is not None:
                return found
        return None

    def signing_key(self) -> SigningKey:
        if self.session is None:
            # On the event loop (bind_on_loop): the cached key, read beforehand.
            key = self.config.keys.cached_current()
            if key is None:
                raise NotPrefetched("signing key")
            return key
        return self.config.keys.current(self.session)

    def jwks(self) -> dict:
        return self.config.keys.jwks(self.session)

    def end_browser_session(self, session: dict[str, Any]) -> None:
        """Logout ends the login and every token issued under it, and
        prepares a back-channel logout notice for each client that took part
        (OIDC Back-Channel Logout 1.0), sent once the change is committed."""
        sid = session.get("sid")
        self.config.hooks.end_session(self.session, session)
        if not sid:
            return
        self.end_session_by_sid(str(sid))

    def end_session_by_sid(self, sid: str) -> int:
        """Revoke every token issued under the login ``sid`` and write the
        participating clients' back-channel logout notices to the outbox, in
        the same transaction; the caller commits, then tries
        ``logout_notices`` (:meth:`Provider.send_logout_notices`). The number
        of tokens revoked."""
        notices = 0
        for client_id, subject in self.store.clients_of_session(sid=sid):
            client = self.store.get_client(client_id)
            if client is not None and client.backchannel_logout_uri:
                outbox = self.provider.outbox
                self.logout_notices.append(
                    outbox.enqueue(self.session, client_id=client_id, uri=client.backchannel_logout_uri, subject=subject, sid=sid)
                )
                notices += 1
        revoked = self.store.revoke_session_tokens(sid=sid)
        # A code the login was given moments ago must not buy tokens after it ended.
        self.store.expire_session_codes(sid=sid)
        log.info("session ended", extra={"fields": {"tokens_revoked": revoked, "notices": notices}})
        return revoked

    def logout_token(self, *, client_id: str, subject: str | None, sid: str) -> str:
        """Back-Channel Logout 1.0 §2.4: a JWT naming the session, never a
        nonce, signed as the client's ID tokens are (§2.4: "the same rules for
        signing ... that apply to ID Tokens apply to Logout Tokens")."""
        now = self.config.clock.timestamp()
        key = self.signing_key()
        client = self.store.get_client(client_id)
        alg = client.registration.id_token_alg if client is not None else "RS256"
        claims: dict[str, Any] = {
            "iss": self.config.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 120,
            "jti": self.config.tokens.token(16),
            "sid": sid,
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        }
        if subject:
            claims["sub"] = subject
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key.key, algorithms=[alg])


class Provider:
    def __init__(self, config: ProviderConfig, db: Database, *, reads: AsyncReads) -> None:
        self.config = config
        self.db = db
        # The service's reads on the event loop (its asyncpg pool): the hot paths use them.
        self.reads = reads
        self.issuer_param = _Issuer(config.issuer)
        self.interactions = Interactions(config.kv, config.tokens, config.interaction_ttl)
        self.pushed = PushedRequests(config.kv, config.tokens, config.par_ttl)
        self.client_keys = ClientKeys()
        # RFC 9449 §8: server nonces, when every proof must carry one.
        self.dpop = ProofChecker(config.clock, nonces=NonceSource(config.nonce_secret) if config.dpop_nonce_required else None)
        self.request_objects = RequestObjects(issuer=config.issuer, clock=config.clock, keys=self.client_keys)
        # Client rows for a few seconds (see ClientCache for why that is safe).
        self.clients = ClientCache()
        # One per thread that runs an event loop (see bind_on_loop).
        self._loop_servers = threading.local()
        self.hot = HotPaths(self)
        self.outbox = LogoutOutbox(
            db=db,
            table=config.tables.logout_outbox,
            clock=config.clock,
            sign=self._sign_logout,
            max_age=config.logout_notice_max_age,
            max_delay=config.logout_retry_max_delay,
        )
        self.outbox_depth = OutboxDepth(db, config.tables.logout_outbox)

    def _sign_logout(self, notice: OutboxNotice) -> str:
        with self.db.session() as s:
            return self.bind(s).logout_token(client_id=notice.client_id, subject=notice.subject, sid=notice.sid)

    def send_logout_notices(self, bound: BoundProvider) -> None:
        """The attempt right after the logout committed; the outbox keeps
        what fails for ``manage worker`` to retry."""
        self.outbox.deliver(bound.logout_notices)

    @classmethod
    def configure(
        cls,
        settings: ProviderSettings,
        *,
        issuer: str,
        runtime: ProviderRuntime,
        tables: ProviderTables,
        hooks: ProviderHooks,
        claims_supported: tuple[str, ...],
        scoped_claims: dict[str, str] | None = None,
        api_scopes: tuple[str, ...] = (),
    ) -> Provider:
        """``api_scopes``: scopes of the resource servers that accept this
        provider's access tokens (hrss_isso: the refund portal's). Like the
        scopes of ``scoped_claims`` they are published in scopes_supported,
        and a client obtains them only when it is registered for them."""
        db, reads, kv, clock, tokens = runtime.db, runtime.reads, runtime.kv, runtime.clock, runtime.tokens
        keys = KeyManager(
            tables=tables, clock=clock, secret_key=settings.secret_key.get_secret_value(), publish_grace=settings.id_token_ttl + 300
        )
        config = ProviderConfig(
            issuer=issuer,
            tables=tables,
            clock=clock,
            tokens=tokens,
            kv=kv,
            keys=keys,
            hooks=hooks,
            code_ttl=settings.code_ttl,
            access_token_ttl=settings.access_token_ttl,
            refresh_token_ttl=settings.refresh_token_ttl,
            id_token_ttl=settings.id_token_ttl,
            require_pushed_authorization_requests=settings.require_pushed_authorization_requests,
            par_ttl=settings.par_ttl,
            dpop_nonce_required=settings.dpop_nonce_required,
            nonce_secret=settings.secret_key.get_secret_value(),
            logout_notice_max_age=settings.backchannel_logout_max_age,
            logout_retry_max_delay=settings.backchannel_logout_retry_max_delay,
            claims_supported=("sub", "acr", "amr", "auth_time", "trust_level", *claims_supported),
            scoped_claims=dict(scoped_claims or {}),
            scopes_supported=("openid", "profile", *sorted(set((scoped_claims or {}).values()) | set(api_scopes))),
        )
        return cls(config, db, reads=reads)

    def bind(self, session: Session | None, request: StarletteOAuth2Request | None = None, *, store: Any = None) -> BoundProvider:
        return BoundProvider(self, session, request, store=store)

    def bind_on_loop(self, store: Any) -> BoundProvider:
        """Bind the event loop's own Authlib server to ``store`` (the hot paths).

        Building the server (grants, endpoints, extensions) cost more than a
        client-credentials grant itself. One server serves every hot-path
        request of this process: they run Authlib synchronously on the event
        loop, one after another and never across an ``await``, so binding
        it to the current request's store cannot leak into another's. One
        server per thread: a process with several event loops (test clients,
        each on a thread of its own) ran the grants of two loops on one
        server at once, and a token was saved in the other request's store.
        Worker threads bind their own with :meth:`bind`."""
        server = getattr(self._loop_servers, "server", None)
        if server is None:
            server = self._loop_servers.server = BoundProvider(self, None, None, store=store).server
        return BoundProvider(self, None, None, store=store, server=server)

    def url(self, path: str) -> str:
        return self.config.issuer + path

    # -- setup -------------------------------------------------------------
    def prepare(self, clients: list[ClientConfig]) -> None:
        """At start-up: a signing key exists and configured clients are stored."""
        supported = set(self.config.scopes_supported)
        for client in clients:
            # A scope the provider does not support would make every request
            # that asks for it fail with invalid_scope: refuse to start instead.
            unknown = sorted(set(client.scope.split()) - supported)
            if unknown:
                raise ValueError(
                    f"client {client.client_id!r} is registered for unsupported scopes {unknown} (supported: {sorted(supported)})"
                )
        with self.db.transaction() as s:
            self.config.keys.ensure_key(s)
            store = ProviderStore(s, self.config.tables, self.config.clock)
            for client in clients:
                store.upsert_client(config=client)
        self.config.keys.invalidate()
        self.clients.invalidate()

    # -- authorization endpoint -------------------------------------------
    def authorize(self, req: StarletteOAuth2Request, *, resumed: Interaction | None = None) -> Respond | ErrorPage | Decision:
        """The general path (a worker thread): a pushed request or a request
        object resolved, the session's principal read, the request decided
        (:meth:`decide`) and a new code committed. Parking the interaction
        (again) is left to :meth:`conclude`, on the event loop: the
        key-value store may be the same SQLite database, and a write there
        inside this session would wait on it."""
        if resumed is not None:
            # Judged by AuthorizationRequestPolicy when it arrived, then parked.
            req.pushed = True
        elif "request_uri" in req.payload.data:
            refused = self._take_pushed(req)
            if refused is not None:
                return refused
        # The session reads, and writes at most the code, which stands whatever
        # follows (one unused is harmless): no transaction round trips.
        with self.db.session(autocommit=True) as s:
            server = self.bind(s).server
            if "request" in req.payload.data:
                try:
                    self.request_objects.expand(server, req)
                except OAuth2Error as error:
                    return self._refused_object(server, req, error)
            principal = self.config.hooks.session_principal(s, req.session)
            decided = self.decide(server, req, principal, resumed=resumed)
            if isinstance(decided, Decision) and decided.kind == "done":
                s.commit()
        return decided

    def decide(
        self, server: StarletteAuthorizationServer, req: StarletteOAuth2Request, principal: Principal | None, *, resumed: Interaction | None
    ) -> Respond | ErrorPage | Decision:
        """An authorization request against the browser's login (``principal``,
        None without one), through Authlib's grant on ``server``: refused, or
        a :class:`Decision`. A code it issues is saved through the server's
        store; the caller makes it last."""
        data = req.payload.data
        if resumed is not None and resumed.needs_login:
            # The parked request asked for a login: only one that happened
            # after it was parked counts (and then max_age is satisfied).
            if principal is not None and principal.session_started < resumed.created:
                principal = None
        elif principal is not None and is_stale(principal, data.get("max_age"), self.config.clock.timestamp()):
            principal = None
        try:
            grant = server.get_consent_grant(req, end_user=principal)
        except OAuth2Error as error:
            return self.refused(server, req, error)
        required = essential_acr(data.get("claims"))
        if principal is None or (grant.prompt == "login" and resumed is None):
            return Decision("login", grant, principal, required)
        if required is not None and (principal.trust_level is None or principal.trust_level < required):
            if "none" in (data.get("prompt") or "").split():
                return self._unmet_redirect(server, req, grant.redirect_uri)
            return Decision("unmet", grant, principal, required)
        response = server.create_authorization_response(req, grant_user=principal, grant=grant)
        return Decision("done", grant, principal, required, response)

    async def conclude(
        self, req: StarletteOAuth2Request, decided: Respond | ErrorPage | Decision, *, resumed: Interaction | None
    ) -> Respond | ErrorPage | Login | Unmet:
        """A decision made final on the event loop: the request parked for a
        login, or the "level too low" page. A ``resumed`` request was taken
        when its resume came: a code or an error answers it, otherwise it is
        parked again for what is left of its time."""
        if not isinstance(decided, Decision):
            return decided
        grant, principal, required = decided.grant, decided.principal, decided.required
        if resumed is not None and decided.kind in ("login", "unmet"):
            # Not answered: come back without the login (another browser, a
            # session ended), or to the "level too low" page.
            await self.interactions.apark_again(resumed, self.config.clock.timestamp())
        if decided.kind == "login":
            interaction = await self.interactions.acreate(**self.parked_fields(req, grant))
            return Login(interaction=interaction, url=self.config.hooks.login_url(interaction.id))
        if decided.kind == "unmet":
            interaction = resumed or await self.interactions.acreate(**self.parked_fields(req, grant, needs_login=False))
            # Once only: a login that has just come back (resumed) still below
            # the level is explained here rather than sent upstream again.
            step_up = None if resumed is not None else self.config.hooks.step_up_url(principal, interaction.id)
            if step_up:
                log.info("step-up sent on", extra={"fields": {"client_id": interaction.client_id, "required": required.acr}})
                return Login(interaction=interaction, url=step_up)
            upgrade = self.config.hooks.upgrade_url(principal, required.acr, interaction.id)
            return Unmet(interaction=interaction, principal=principal, required=required, upgrade_url=upgrade)
        log.info("authorization code issued", extra={"fields": {"client_id": grant.client.client_id, "acr": principal.acr}})
        return Respond(decided.response)

    @asynccontextmanager
    async def answering(self, taken: Interaction) -> AsyncIterator[None]:
        """Around the answer to a request taken from its parking place
        (``Interactions.atake``): parked again if answering it failed (the
        database, a bug), so that the page's "try again" can be followed by
        the browser that holds it."""
        try:
            yield
        except Exception:
            await self.interactions.apark_again(taken, self.config.clock.timestamp())
            raise

    def _take_pushed(self, req: StarletteOAuth2Request) -> ErrorPage | None:
        """RFC 9126 §4: serve the parameters pushed under ``request_uri``, and
        only those (the query's other parameters are ignored). Unknown,
        expired, spent or another client's: an error page, since none of its
        parameters, the redirect URI included, can be trusted. Taken before
        the authorization's database session (the key-value store may be the
        same SQLite database)."""
        pushed = self.pushed.take(req.payload.data["request_uri"])
        if pushed is None or pushed.client_id != req.payload.client_id:
            log.info("pushed request refused", extra={"fields": {"client_id": req.payload.client_id, "known": pushed is not None}})
            return ErrorPage(error="invalid_request_uri", description="The request_uri is unknown, expired or already used.")
        req.use_params(pushed.params)
        req.pushed = True
        return None

    def _refused_object(self, server: StarletteAuthorizationServer, req: StarletteOAuth2Request, error: OAuth2Error) -> Respond | ErrorPage:
        """A request object that cannot be verified says nothing trustworthy,
        its redirect URI included: the error goes to the redirect URI beside
        it in the query only if that one is registered for the client."""
        client = server.query_client(req.payload.client_id) if req.payload.client_id else None
        redirect_uri = req.payload.redirect_uri
        log.info(
            "request object refused", extra={"fields": {"client_id": req.payload.client_id, "error": error.error, "why": error.description}}
        )
        if client is not None and redirect_uri and client.check_redirect_uri(redirect_uri):
            error.redirect_uri = redirect_uri
        return self.refused(server, req, error)

    def push(self, req: StarletteOAuth2Request) -> AuthlibResponse:
        """The PAR endpoint (RFC 9126 §2): an authenticated client's request,
        validated as /authorize would (redirect URI, response type, scope,
        PKCE), kept under a single-use ``request_uri``. Errors are JSON, never
        a redirect."""
        with self.db.session() as s:
            server = self.bind(s).server
            try:
                client = server.authenticate_client(req, CLIENT_AUTH, endpoint="pushed_authorization")
                if "request_uri" in req.payload.data:
                    raise InvalidRequestError("'request_uri' must not be pushed.")
                if req.payload.client_id != client.client_id:
                    raise InvalidRequestError("'client_id' must name the authenticated client.")
                if "request" in req.payload.data:
                    self.request_objects.expand(server, req)
                req.pushed = True
                grant = server.get_authorization_grant(req)
                grant.validate_no_multiple_request_parameter(req)
                grant.validate_authorization_request()
            except OAuth2Error as error:
                error.redirect_uri = None
                return server.handle_error_response(req, error)
        # The client's credentials authenticated this push; they are not part of
        # the authorization request and must not lie in the store (nor, after
        # /authorize, in the parked interaction).
        params = [(k, v) for k, v in req.payload.data.items() if k not in _CLIENT_CREDENTIALS]
        request_uri = self.pushed.push(client.client_id, params)
        log.info("authorization request pushed", extra={"fields": {"client_id": client.client_id}})
        body = {"request_uri": request_uri, "expires_in": self.config.par_ttl}
        return server.handle_response(201, body, [("Cache-Control", "no-store")])

    def deny(self, req: StarletteOAuth2Request, error: str) -> Respond | ErrorPage:
        """End a parked request, taken by the caller (:meth:`answering`),
        with an error for the client: the user gave up at the 'level too
        low' page, or an upstream provider refused."""
        req.pushed = True  # parked, so judged when it arrived
        with self.db.session() as s:
            server = self.bind(s).server
            try:
                grant = server.get_consent_grant(req, end_user=None)
                redirect_uri = grant.redirect_uri
            except OAuth2Error as exc:
                if exc.error != "login_required" or not exc.redirect_uri:
                    return self.refused(server, req, exc)
                redirect_uri = exc.redirect_uri
        cls = _DENIALS.get(error, AccessDeniedError)
        return self.refused(server, req, cls(redirect_uri=redirect_uri, state=req.payload.state))

    def parked_fields(self, req: StarletteOAuth2Request, grant: Any, *, needs_login: bool = True) -> dict[str, Any]:
        """What an interaction keeps of a request that waits for the user."""
        # prompt is satisfied by the login the interaction waits for, so it is
        # not replayed on resume; kept aside for a federating provider to
        # forward upstream (prompt=login must reach the real authentication).
        params = {k: v for k, v in req.payload.data.items() if k != "prompt"}
        return {
            "requested_prompt": req.payload.data.get("prompt") or "",
            "params": params,
            "created": self.config.clock.timestamp(),
            "client_id": grant.client.client_id,
            "client_name": grant.client.client_name,
            "needs_login": needs_login,
        }

    def _unmet_redirect(self, server: StarletteAuthorizationServer, req: StarletteOAuth2Request, redirect_uri: str) -> Respond | ErrorPage:
        error = UnmetAuthenticationRequirementsError(redirect_uri=redirect_uri, state=req.payload.state)
        return self.refused(server, req, error)

    def refused(self, server: StarletteAuthorizationServer, req: StarletteOAuth2Request, error: OAuth2Error) -> Respond | ErrorPage:
        """An authorization request refused: back to the client when its
        redirect URI is known to be the client's, else an error page."""
        if getattr(error, "redirect_uri", None):
            error.state = req.payload.state
            response = server.handle_error_response(req, error)
            # RFC 9207 §2: error responses carry ``iss`` too.
            self.issuer_param.add_issuer_parameter(server, response)
            return Respond(response)
        log.info("authorization request refused without redirect", extra={"fields": {"error": error.error}})
        return ErrorPage(
            error=error.error,
            description=error.get_error_description() if hasattr(error, "get_error_description") else (error.description or ""),
        )

    # -- back-channel endpoints -------------------------------------------
    def token(self, req: StarletteOAuth2Request) -> AuthlibResponse:
        with self.db.session() as s:
            bound = self.bind(s)
            if "dpop" in req.headers:
                try:
                    self.check_dpop(bound, req, url=self.url(self.config.paths.token))
                except InvalidDPoPProofError as error:
                    return bound.server.handle_error_response(req, error)
            response = bound.server.create_token_response(req)
            if response.status_code < 400 or req.persist_on_error:
                s.commit()
            else:
                s.rollback()
        return response

    def check_dpop(
        self,
        bound: BoundProvider,
        req: StarletteOAuth2Request,
        *,
        url: str,
        access_token: str | None = None,
        bound_to: str | None = None,
        algorithms: Sequence[str] = DPOP_ALGORITHMS,
    ) -> None:
        """The request's DPoP proof (:class:`~.dpop.ProofChecker`), its key
        noted on ``req``; :class:`InvalidDPoPProofError` when it will not do.
        Its jti is recorded in the database at once (oauth_used_jti, committed
        by ``use_jti``), so a replay is refused on any replica."""

        def spend(key: str, until: int) -> bool:
            return bound.store.use_jti(client_id="dpop", jti=key, expires_at=dt.datetime.fromtimestamp(until, tz=dt.UTC))

        try:
            proof = self.dpop.check(
                req.headers.getlist("dpop"),
                method=req.method,
                url=url,
                spend=spend,
                access_token=access_token,
                bound_to=bound_to,
                algorithms=algorithms,
            )
        except InvalidDPoPProofError as error:
            log.info("dpop proof refused", extra={"fields": {"error": error.error, "why": error.description}})
            raise
        req.dpop_jkt, req.dpop_proof = proof.jkt, proof

    def endpoint(self, name: str, req: StarletteOAuth2Request) -> AuthlibResponse:
        with self.db.session() as s:
            response = self.bind(s, req).server.create_endpoint_response(name, req)
            if response is not None and response.status_code < 400:
                s.commit()
        return response

    def end_session(self, req: StarletteOAuth2Request, *, confirmed: bool) -> AuthlibResponse | ConfirmLogout | None:
        """RP-initiated logout 1.0. Without a valid ``id_token_hint`` the user
        confirms on a page first (a logout link alone must not log anyone out)."""
        with self.db.session() as s:
            bound = self.bind(s)
            server = bound.server
            try:
                validated = server.validate_endpoint_request("end_session", req)
            except OAuth2Error:
                if not confirmed:
                    return ConfirmLogout(client_name=None)
                bound.end_browser_session(req.session)
                s.commit()
                self.send_logout_notices(bound)
                return None
            current = self.config.hooks.session_principal(s, req.session)
            # RP-Initiated Logout §2: ask when the hint is not the logged-in
            # user's, so a link with someone else's ID token logs nobody out.
            foreign_hint = (
                current is not None and validated.id_token_claims is not None and validated.id_token_claims.get("sub") != current.sub
            )
            if (validated.needs_confirmation or foreign_hint) and not confirmed:
                return ConfirmLogout(client_name=validated.client.client_name if validated.client else None)
            response = server.create_endpoint_response("end_session", validated)
            s.commit()
        self.send_logout_notices(bound)
        return response

    def end_sessions_by_sid(self, sids: list[str]) -> int:
        """End these logins without their browser (a federating provider told
        over the back channel that the upstream login ended): revoke their
        tokens, commit, then send the clients' back-channel logout notices,
        only once the revocation stands. The number of tokens revoked."""
        with self.db.session() as s:
            bound = self.bind(s)
            revoked = sum(bound.end_session_by_sid(sid) for sid in sids)
            s.commit()
        self.send_logout_notices(bound)
        return revoked

    def end_logins_of(self, person: str, *, subjects: Collection[str], keep_sid: str | None = None) -> int:
        """End every login ``person`` authenticated, except the one ``keep_sid``
        (a password change keeps the browser it was made in): as the subject
        itself, or acting (``act``) for one of ``subjects``. Only logins that
        still hold a usable token or code are found here; the service refuses
        their browser sessions itself. The number of tokens revoked."""
        with self.db.session() as s:
            grants = ProviderStore(s, self.config.tables, self.config.clock).live_grants(subjects=subjects)
        sids = {sid for sid, subject, context in grants if sid != keep_sid and authenticated_by(subject, context) == person}
        return self.end_sessions_by_sid(sorted(sids))

    # -- metadata ----------------------------------------------------------
    def jwks(self) -> dict:
        with self.db.transaction() as s:
            return self.config.keys.jwks(s)

    def discovery(self) -> dict[str, Any]:
        p = self.config.paths
        return {
            "issuer": self.config.issuer,
            "authorization_endpoint": self.url(p.authorization),
            "token_endpoint": self.url(p.token),
            "userinfo_endpoint": self.url(p.userinfo),
            "jwks_uri": self.url(p.jwks),
            "introspection_endpoint": self.url(p.introspection),
            "revocation_endpoint": self.url(p.revocation),
            "pushed_authorization_request_endpoint": self.url(p.pushed_authorization),
            "require_pushed_authorization_requests": self.config.require_pushed_authorization_requests,
            "end_session_endpoint": self.url(p.end_session),
            "scopes_supported": list(self.config.scopes_supported),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ID_TOKEN_SIGNING_ALGORITHMS,
            "token_endpoint_auth_methods_supported": CLIENT_AUTH,
            "token_endpoint_auth_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
            "introspection_endpoint_auth_methods_supported": SECRET_AUTH,
            "revocation_endpoint_auth_methods_supported": ProviderRevocation.CLIENT_AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(self.config.claims_supported),
            "claims_parameter_supported": True,
            "request_parameter_supported": True,
            "request_object_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
            "request_uri_parameter_supported": False,
            "acr_values_supported": [lvl.acr for lvl in TrustLevel],
            "prompt_values_supported": ["none", "login"],
            "authorization_response_iss_parameter_supported": True,
            "dpop_signing_alg_values_supported": DPOP_ALGORITHMS,
            "claim_types_supported": ["normal"],
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
