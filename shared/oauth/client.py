"""The relying-party side, on Authlib's Starlette client (DESIGN.md).

One place checks everything a login response must satisfy: ``state`` (Authlib,
against the server-side session), PKCE S256, the RFC 9207 ``iss`` parameter,
and the ID token's signature against the provider's JWKS, its ``iss``,
``aud``, ``exp`` and ``nonce``. Failures become a :class:`LoginFailed` with a
kind a page can explain in Chinese; nothing is half-logged-in after one.

A provider that takes DPoP proofs (RFC 9449; its discovery lists ES256 in
``dpop_signing_alg_values_supported``) gets one with the token request, by a
key made for that login alone: the tokens it issues are bound to that key
(kept on the :class:`VerifiedLogin`), so a token that leaks from the relying
party is of no use without it. A FAPI 2.0 client must send one. A provider
that wants server nonces in proofs (§8) answers ``use_dpop_nonce`` with a
``DPoP-Nonce``: the token request is then sent once more, its proof carrying
that nonce, and the latest nonce the provider gave goes into later proofs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oauth2.client import DEFAULT_HEADERS
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet
from starlette.requests import Request
from starlette.responses import RedirectResponse

from shared.clock import Clock, SystemClock
from shared.oauth.provider.dpop import make_proof
from shared.oauth.rp_keys import RelyingPartyKey, public_jwks, signing_alg

with warnings.catch_warnings():
    # Authlib 1.9 prefers the ``httpx2`` package and warns once when it falls
    # back to ``httpx``. We use ``httpx`` deliberately (respx mocks it and the
    # rest of the project speaks it), so this one warning is expected.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

__all__ = ["RelyingParty", "LoginFailed", "VerifiedLogin", "upstream_relying_party"]

log = logging.getLogger("oauth.client")
DISCOVERY_KEYS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
# What this relying party signs its DPoP proofs with (FAPI 2.0 §5.4 allows it).
DPOP_ALG = "ES256"
# What a provider's own JWTs (logout tokens) may be signed with: asymmetric
# algorithms only, whatever its discovery document lists (never HS*, never none).
PROVIDER_SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256", "Ed25519", "EdDSA")


def new_dpop_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


class LoginFailed(Exception):
    """kind: upstream_error | state | unreachable | invalid_response | issuer_mismatch"""

    def __init__(self, kind: str, detail: str = "", upstream_error: str | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.upstream_error = upstream_error


@dataclass
class VerifiedLogin:
    claims: dict[str, Any]
    token: dict[str, Any]
    # The key the tokens are bound to (token_type DPoP): every later use of
    # the access token (userinfo) needs a proof by it. None: bearer tokens.
    dpop_key: ECKey | None = None

    @property
    def id_token(self) -> str:
        return self.token["id_token"]


class RelyingParty:
    def __init__(
        self,
        *,
        name: str,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scope: str = "openid profile",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        jwks_refetch_interval: int = 15,
        private_key: RelyingPartyKey | None = None,
        dpop_keys: Callable[[], ECKey] = new_dpop_key,
    ) -> None:
        """``private_key``: authenticate with ``private_key_jwt`` (RFC 7523)
        signed by it, at the token and PAR endpoints, instead of the secret.
        ``dpop_keys``: a new key for each login's DPoP proofs."""
        self.dpop_keys = dpop_keys
        # The provider's latest DPoP nonce (RFC 9449 §8): one per server, not
        # per login, so every login's proofs may carry it.
        self._dpop_nonce: str | None = None
        self.name = name
        self.clock = clock or SystemClock()
        self.jwks_refetch_interval = jwks_refetch_interval
        self._jwks_refetched_at: int | None = None
        self.issuer = issuer.rstrip("/")
        self.redirect_uri = redirect_uri
        client_kwargs: dict[str, Any] = {
            "scope": scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic" if private_key is None else PrivateKeyJWT.name,
            "timeout": timeout,
            "event_hooks": {"response": [self._note_dpop_nonce]},
        }
        if transport is not None:
            client_kwargs["transport"] = transport
        self.private_key = private_key
        self._oauth = OAuth()
        self.app = self._oauth.register(
            name,
            client_id=client_id,
            client_secret=client_secret if private_key is None else private_key,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs=client_kwargs,
            # Each assertion gets a fresh jti and is addressed (aud) to the
            # endpoint it is sent to: token or PAR.
            client_auth_methods=[PrivateKeyJWT(alg=signing_alg(private_key))] if private_key is not None else None,
        )

    def public_jwks(self) -> dict:
        """What this relying party publishes at its jwks_uri (empty without a key)."""
        return public_jwks(self.private_key) if self.private_key is not None else {"keys": []}

    async def metadata(self) -> dict[str, Any]:
        try:
            metadata = await self.app.load_server_metadata()
        except (httpx.HTTPError, ValueError, TypeError) as exc:
            # TypeError: JSON that is not an object (Authlib stamps it with _loaded_at).
            raise LoginFailed("unreachable", str(exc)) from exc
        missing = [key for key in DISCOVERY_KEYS if not isinstance(metadata.get(key), str)]
        if missing:
            # Authlib keeps whatever JSON object it got, for good: a provider's
            # maintenance answer would break every later login. Forget it (the
            # app was registered with no metadata of its own) and ask again next time.
            self.app.server_metadata.clear()
            raise LoginFailed("unreachable", f"discovery document without {', '.join(missing)}")
        return metadata

    async def provider_algorithms(self) -> list[str]:
        """What the provider signs its tokens with, by its discovery
        document's ``id_token_signing_alg_values_supported`` (RS256, OIDC
        Discovery's default, when absent): the list Authlib verifies ID tokens
        against, and logout tokens are signed as ID tokens are (Back-Channel
        Logout §2.4), PS256 for a client registered as fapi2."""
        listed = (await self.metadata()).get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in PROVIDER_SIGNING_ALGORITHMS if alg in listed]

    async def decode_jwt(self, token: str, *, algorithms: list[str]) -> jwt.Token:
        """Check the signature of a JWT the provider signed outside a token
        response (a back-channel logout token) against its JWKS.

        The key set is cached with the discovery document. A ``kid`` it lacks
        usually means the provider rotated its keys (``manage rotate-keys``):
        fetch the set again and verify once more. Anyone can post a token with
        a made-up ``kid``, so the set is fetched again at most once per
        ``jwks_refetch_interval`` seconds; within that window an unknown
        ``kid`` is refused from the cache. (Authlib refetches on its own only
        for ID tokens, which come straight from the token endpoint.)
        """
        try:
            return jwt.decode(token, await self._key_set(force=False), algorithms=algorithms)
        except InvalidKeyIdError:
            now = self.clock.timestamp()
            if self._jwks_refetched_at is not None and now - self._jwks_refetched_at < self.jwks_refetch_interval:
                raise
            # Stamped before the fetch: concurrent tokens wait out the window too.
            self._jwks_refetched_at = now
            log.info("unknown key id: fetching the provider's JWKS again", extra={"fields": {"provider": self.name}})
            return jwt.decode(token, await self._key_set(force=True), algorithms=algorithms)

    async def _key_set(self, *, force: bool) -> KeySet:
        await self.metadata()
        try:
            return KeySet.import_key_set(await self.app.fetch_jwk_set(force=force))
        except httpx.HTTPError as exc:
            raise LoginFailed("unreachable", f"JWKS: {exc}") from exc

    async def start(self, request: Request, **params: str) -> RedirectResponse:
        """Redirect the browser to the provider (state, nonce and PKCE kept
        in the server-side session by Authlib).

        A provider with a PAR endpoint gets the parameters pushed over the
        back channel (RFC 9126), authenticated as at the token endpoint; the
        browser then carries only ``client_id`` and the ``request_uri``, so
        nothing it could change travels through it."""
        metadata = await self.metadata()
        params = {k: v for k, v in params.items() if v}
        par_endpoint = metadata.get("pushed_authorization_request_endpoint")
        try:
            if not par_endpoint:
                return await self.app.authorize_redirect(request, self.redirect_uri, **params)
            prepared = await self.app.create_authorization_url(self.redirect_uri, **params)
            request_uri = await self._push(metadata, par_endpoint, prepared["url"])
        except httpx.HTTPError as exc:
            raise LoginFailed("unreachable", str(exc)) from exc
        await self.app.save_authorize_data(request, redirect_uri=self.redirect_uri, **prepared)
        query = httpx.QueryParams({"client_id": self.app.client_id, "request_uri": request_uri})
        return RedirectResponse(f"{metadata['authorization_endpoint']}?{query}", status_code=302)

    async def _push(self, metadata: dict[str, Any], endpoint: str, authorization_url: str) -> str:
        async with self.app._get_oauth_client(**metadata) as client:
            # Authenticated exactly as Authlib authenticates the token request.
            auth = client.client_auth(client.token_endpoint_auth_method)
            response = await client.post(endpoint, data=dict(httpx.URL(authorization_url).params), auth=auth)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 201 or not isinstance(body.get("request_uri"), str):
            log.warning("pushed authorization request refused", extra={"fields": {"provider": self.name, "status": response.status_code}})
            raise LoginFailed("upstream_error", str(body.get("error_description", "")), upstream_error=body.get("error", "server_error"))
        return body["request_uri"]

    async def finish(self, request: Request) -> VerifiedLogin:
        metadata = await self.metadata()
        query = request.query_params
        if "error" in query:
            await self._forget_state(request)
            raise LoginFailed("upstream_error", query.get("error_description", ""), upstream_error=query["error"])
        # RFC 9207 §2.4: compare ``iss`` before touching the code, so a mix-up
        # attacker's code is never sent to the honest token endpoint.
        expects_iss = metadata.get("authorization_response_iss_parameter_supported") or "iss" in query
        if metadata.get("issuer") != self.issuer or (expects_iss and query.get("iss") != self.issuer):
            await self._forget_state(request)
            raise LoginFailed("issuer_mismatch", f"iss={query.get('iss')!r}")
        claims_options = {
            "iss": {"essential": True, "values": [self.issuer]},
            "sub": {"essential": True},
            "aud": {"essential": True, "values": [self.app.client_id]},
        }
        dpop_key = self.dpop_keys() if DPOP_ALG in (metadata.get("dpop_signing_alg_values_supported") or []) else None
        try:
            token = await self._redeem(request, claims_options, dpop_key, str(metadata["token_endpoint"]))
        except OAuthError as exc:
            kind = "state" if exc.error == "mismatching_state" or "state" in (exc.description or "") else "upstream_error"
            raise LoginFailed(kind, exc.description or exc.error, upstream_error=exc.error) from exc
        except httpx.HTTPError as exc:
            raise LoginFailed("unreachable", str(exc)) from exc
        except (JoseError, ValueError, KeyError) as exc:
            raise LoginFailed("invalid_response", repr(exc)) from exc
        if "id_token" not in token or not token.get("userinfo"):
            raise LoginFailed("invalid_response", "no id_token in token response")
        if dpop_key is not None and str(token.get("token_type", "")).lower() != "dpop":
            # The proof went unheeded: the tokens are bearer tokens after all.
            dpop_key = None
        return VerifiedLogin(claims=dict(token["userinfo"]), token=dict(token), dpop_key=dpop_key)

    async def _redeem(self, request: Request, claims_options: dict[str, Any], dpop_key: ECKey | None, token_endpoint: str) -> dict:
        """The token request (Authlib's, which also checks the ID token), with
        a DPoP proof by ``dpop_key`` when there is one. Answered
        ``use_dpop_nonce`` with a new nonce (RFC 9449 §8), it is sent once
        more with a proof carrying that nonce."""
        if dpop_key is None:
            return await self.app.authorize_access_token(request, claims_options=claims_options)
        state = request.query_params.get("state")
        # Authlib spends the login's state (PKCE verifier, nonce) before it
        # sends the request; kept here to put back for the one retry.
        kept = await self.app.framework.get_state_data(request.session, state) if state else None
        nonce_sent = self._dpop_nonce
        try:
            return await self._token_request(request, claims_options, dpop_key, token_endpoint)
        except OAuthError as exc:
            if exc.error != "use_dpop_nonce" or kept is None or self._dpop_nonce in (None, nonce_sent):
                raise
        log.info("token request retried with the provider's DPoP nonce", extra={"fields": {"provider": self.name}})
        await self.app.framework.set_state_data(request.session, state, kept)
        return await self._token_request(request, claims_options, dpop_key, token_endpoint)

    async def _token_request(self, request: Request, claims_options: dict[str, Any], dpop_key: ECKey, token_endpoint: str) -> dict:
        now = self.clock.timestamp()
        proof = make_proof(dpop_key, DPOP_ALG, method="POST", url=token_endpoint, now=now, nonce=self._dpop_nonce)
        return await self.app.authorize_access_token(request, claims_options=claims_options, headers={**DEFAULT_HEADERS, "DPoP": proof})

    async def _note_dpop_nonce(self, response: httpx.Response) -> None:
        # §8.2: a provider may hand out a new nonce in any response, an error or not.
        nonce = response.headers.get("dpop-nonce")
        if nonce:
            self._dpop_nonce = nonce

    async def _forget_state(self, request: Request) -> None:
        """A login refused before the code is used ends there: its state
        (and PKCE verifier, nonce) cannot complete a later response."""
        state = request.query_params.get("state")
        if state:
            await self.app.framework.clear_state_data(request.session, state)

    async def logout_url(self, *, id_token_hint: str | None, post_logout_redirect_uri: str, state: str | None = None) -> str | None:
        """The provider's RP-initiated logout request, or None when it cannot
        be asked. ``state`` comes back on ``post_logout_redirect_uri`` (§3):
        it ties that return to the logout this relying party began."""
        try:
            metadata = await self.metadata()
        except LoginFailed:
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        params = httpx.QueryParams(
            {
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": self.app.client_id,
                **({"id_token_hint": id_token_hint} if id_token_hint else {}),
                **({"state": state} if state else {}),
            }
        )
        return f"{endpoint}?{params}"


def upstream_relying_party(
    settings: Any,
    upstream: str,
    *,
    redirect_uri: str,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    key_label: str,
    scope: str = "openid profile",
) -> RelyingParty:
    """The relying party a service runs against its provider, from its settings.

    A relying party's settings name its provider's fields with the provider's
    name in front (``ISSO_GDZWFW_ISSUER``…, ``REFUND_ISSO_ISSUER``…): here
    ``<upstream>_issuer``, ``_client_id``, ``_client_secret``,
    ``_client_private_key`` (private_key_jwt; :func:`~shared.oauth.rp_keys.relying_party_key`,
    derived from ``key_label`` in development) and ``_timeout``.
    ``upstream`` also names the Authlib client. ``clock`` paces refetching the
    provider's JWKS.
    """
    from shared.oauth.rp_keys import relying_party_key

    def field(key: str) -> Any:
        return getattr(settings, f"{upstream}_{key}")

    return RelyingParty(
        name=upstream,
        scope=scope,
        issuer=field("issuer"),
        client_id=field("client_id"),
        client_secret=field("client_secret").get_secret_value(),
        private_key=relying_party_key(field("client_private_key"), settings, label=key_label),
        redirect_uri=redirect_uri,
        timeout=field("timeout"),
        transport=transport,
        clock=clock,
    )
