"""Authlib grants and endpoints bound to one request's database session.

A ``BoundProvider`` (:class:`~.binding.Binding`) is built per request (polar's habit: Authlib's core
is synchronous and its grants call back into storage). Its store, clock and
keys are what the grant hooks below use.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.resource_protector import ResourceProtector
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import OpenIDCode, UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.metrics import INTROSPECTIONS, labelled
from shared.oauth.provider.binding import Binding
from shared.oauth.provider.dpop import DPOP_ALGORITHMS, InvalidDPoPProofError, resource_challenge
from shared.oauth.provider.models import AuthorizationCode, Client, Principal, Token
from shared.settings import FAPI2_CODE_TTL, ID_TOKEN_SIGNING_ALGORITHMS

__all__ = [
    "CodeGrant",
    "RefreshGrant",
    "ClientCredentialsGrant",
    "S256CodeChallenge",
    "ProviderOpenIDCode",
    "AuthorizationRequestPolicy",
    "ProviderIntrospection",
    "ProviderRevocation",
    "ProviderUserInfo",
    "ProviderEndSession",
    "bearer_protector",
]

log = logging.getLogger("oauth.provider")
SECRET_AUTH = ["client_secret_basic", "client_secret_post"]
# private_key_jwt: see client_assertions (registered on the server by the provider).
CONFIDENTIAL_AUTH = [*SECRET_AUTH, "private_key_jwt"]
CLIENT_AUTH = [*CONFIDENTIAL_AUTH, "none"]


def _bound(obj: Any) -> Binding:
    return obj.server.bound


class S256CodeChallenge(CodeChallenge):
    """PKCE required for every client, S256 only (DESIGN.md protocol floor)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE (S256) is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge_method


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    def save_authorization_code(self, code: str, request: Any) -> None:
        bound = _bound(self)
        data = request.payload.data
        bound.store.save_code(
            code=code,
            client_id=request.client.client_id,
            principal=request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            ttl=min(bound.config.code_ttl, FAPI2_CODE_TTL) if request.client.registration.is_fapi2 else bound.config.code_ttl,
        )

    def generate_authorization_code(self) -> str:
        return _bound(self).config.tokens.token(32)

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        bound = _bound(self)
        item = bound.store.find_code(code=code, client_id=client.client_id)
        if item is None:
            return None
        if item.used_at is not None:
            self._replayed(item)
            return None
        if item.expires_at <= bound.config.clock.now():
            return None
        return item

    def _replayed(self, item: AuthorizationCode) -> None:
        """RFC 6749 §4.1.2: a code used twice revokes what it produced."""
        revoked = _bound(self).store.revoke_code_tokens(code_id=item.id)
        self.request.persist_on_error = True
        log.warning("authorization code replayed", extra={"fields": {"client_id": item.client_id, "revoked": revoked}})

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Principal | None:
        bound = _bound(self)
        if not bound.store.claim_code(code_id=authorization_code.id):
            self._replayed(authorization_code)
            raise InvalidGrantError("The code has already been used.")
        return bound.principal_for(
            subject=authorization_code.subject,
            acr=authorization_code.acr,
            amr=authorization_code.amr,
            auth_time=authorization_code.auth_time,
            context=authorization_code.context,
        )

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Already claimed in authenticate_user; the row stays so a replay is
        # recognised (and answered by revoking the tokens it produced).
        return None


class RefreshGrant(grants.RefreshTokenGrant):
    """Rotation with replay detection (RFC 9700 §4.14.2), except for a fapi2
    client: FAPI 2.0 §5.3.2.1 item 10 forbids rotation unless a retry with the
    previous refresh token succeeds when the response was lost, which rotation's
    replay detection would answer by revoking the grant. Its refresh token is
    DPoP-bound instead (RFC 9700's other protection, :class:`DPoPBinding`) and
    keeps working for its lifetime; the response has no new one (RFC 6749 §6)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # Authlib's switch, read per request here
        return not self.request.client.registration.is_fapi2

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        bound = _bound(self)
        token = bound.store.find_token(refresh_token=refresh_token)
        if token is None:
            return None
        if token.refresh_used_at is not None:
            self._reused(token)
            return None
        if not token.is_refresh_usable():
            return None
        return token

    def _reused(self, token: Token) -> None:
        """RFC 9700 §4.14.2: a spent refresh token presented again means it
        leaked; revoke the whole family so neither party keeps access."""
        revoked = _bound(self).store.revoke_family(family_id=token.family_id)
        self.request.persist_on_error = True
        log.warning("refresh token reused", extra={"fields": {"client_id": token.client_id, "revoked": revoked}})

    def authenticate_user(self, refresh_token: Token) -> Principal | None:
        return _bound(self).principal_for(
            subject=refresh_token.subject,
            acr=refresh_token.acr,
            amr=refresh_token.amr,
            auth_time=refresh_token.auth_time,
            context=refresh_token.context,
        )

    def revoke_old_credential(self, refresh_token: Token) -> None:
        if not self.INCLUDE_NEW_REFRESH_TOKEN:
            return  # not rotated: the client goes on with the one it holds
        if not _bound(self).store.spend_refresh_token(token_id=refresh_token.id):
            self._reused(refresh_token)
            raise InvalidGrantError("The refresh token has already been used.")


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # Authlib issues any scope the server supports to any client here
        # (the code grant narrows to Client.get_allowed_scope, this one does
        # not): a scope an API checks, such as refund.confirm, must not be
        # had by asking. RFC 6749 §5.2 invalid_scope for one not registered.
        requested = scope_to_list(self.request.payload.scope) or []
        if set(requested) - set(scope_to_list(self.request.client.scope) or []):
            raise InvalidScopeError("The client is not registered for the requested scope.")


class AuthorizationRequestPolicy:
    """RFC 9126 §5: a client registered with
    ``require_pushed_authorization_requests`` (or every client, when the
    server says so) is served only with parameters it pushed to the PAR
    endpoint; the provider resolves a ``request_uri`` (and a signed
    ``request`` object) before Authlib runs and marks a pushed request.
    Runs once the redirect URI is validated, so the error goes back to the
    client; an unregistered one never gets a redirect."""

    def __init__(self, *, require_pushed: bool) -> None:
        self.require_pushed = require_pushed

    def __call__(self, grant: Any) -> None:
        grant.register_hook("before_validate_authorization_request_payload", self.check)

    def check(self, grant: Any, redirect_uri: str) -> None:
        request = grant.request
        if not request.pushed and (self.require_pushed or request.client.registration.require_pushed_authorization_requests):
            raise InvalidRequestError("Pushed authorization request required: send the parameters to the PAR endpoint first.")


class DPoPBinding:
    """RFC 9449 §5 at the token endpoint, for every grant: a client
    registered with ``dpop_bound_access_tokens`` gets tokens only with a
    proof, and a grant whose refresh token is bound continues only with a
    proof of the same key. (The proof itself was checked before Authlib ran,
    its key noted in ``request.dpop_jkt``.) No proof and no binding, as on the
    client-credentials hot path: two attribute reads."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("before_create_token_response", self.check)

    @staticmethod
    def check(grant: Any) -> None:
        request = grant.request
        jkt = request.dpop_jkt
        registration = request.client.registration
        if jkt is None and registration.dpop_bound_access_tokens:
            raise InvalidDPoPProofError("The client must present a DPoP proof.")
        if request.dpop_proof is not None:
            request.dpop_proof.require_algorithm(registration.signing_algorithms())
        old = request.refresh_token
        if old is not None and old.dpop_jkt and old.dpop_jkt != jkt:
            raise InvalidDPoPProofError("The refresh token is bound to another DPoP key.")


DPOP_BINDING = DPoPBinding()


class ProviderOpenIDCode(OpenIDCode):
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Authlib validates a request again when it creates the response; the
        # answer cannot change in between (one transaction, the code not yet
        # written), so the second check reuses the first's query.
        asked = getattr(request, "_nonce_seen", None)
        if asked is not None and asked[0] == nonce:
            return asked[1]
        seen = self._bound.store.nonce_seen(client_id=request.payload.client_id, nonce=nonce)
        request._nonce_seen = (nonce, seen)
        return seen

    def get_client_algorithm(self, client: Client) -> str:
        # OIDC Registration §2 id_token_signed_response_alg; PS256 for fapi2 (FAPI 2.0 §5.4.1).
        return client.registration.id_token_alg

    def resolve_client_private_key(self, client: Client) -> Any:
        return self._bound.signing_key().key

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": client.registration.id_token_alg, "kid": self._bound.signing_key().kid, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = self._bound.config.clock.timestamp()
        return {
            "iss": self._bound.config.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + self._bound.config.id_token_ttl,
        }

    def generate_user_info(self, user: Principal, scope: str) -> dict[str, Any]:
        return self._bound.subject_claims(user, scope)

    def __call__(self, grant: Any) -> None:
        self._bound = grant.server.bound
        super().__call__(grant)


class ProviderIntrospection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = SECRET_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _bound(self).find_any_token(token_string, token_type_hint)

    def check_permission(self, token: Token, client: Client, request: Any) -> bool:
        # Resource servers registered for introspection may ask about any
        # token; other clients only about their own.
        return client.introspection_allowed or token.client_id == client.client_id

    def create_introspection_payload(self, token: Token | None) -> dict[str, Any]:
        payload = super().create_introspection_payload(token)
        labelled(INTROSPECTIONS, "true" if payload.get("active") else "false").inc()
        return payload

    def introspect_token(self, token: Token) -> dict[str, Any]:
        bound = _bound(self)
        payload: dict[str, Any] = {
            "active": True,
            "iss": bound.config.issuer,
            "client_id": token.client_id,
            "scope": token.scope,
            "token_type": "refresh_token" if token.kind == "refresh" else ("DPoP" if token.dpop_jkt else "Bearer"),
            "iat": int(token.issued_at.timestamp()),
            "exp": int((token.refresh_expires_at if token.kind == "refresh" else token.expires_at).timestamp()),
        }
        if token.dpop_jkt:
            payload["cnf"] = {"jkt": token.dpop_jkt}
        if token.subject:
            user = bound.principal_for(
                subject=token.subject, acr=token.acr, amr=token.amr, auth_time=token.auth_time, context=token.context
            )
            if user is None:
                return {"active": False}
            payload.update(bound.subject_claims(user, token.scope))
        return payload


class ProviderRevocation(RevocationEndpoint):
    # private_key_jwt too: a fapi2 client has no secret, and its refresh token,
    # not rotated, is ended here (RFC 7009 §2.1: as at the token endpoint).
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _bound(self).find_any_token(token_string, token_type_hint)

    def revoke_token(self, token: Token, request: Any) -> None:
        store = _bound(self).store
        if token.kind == "refresh":
            # RFC 7009 §2.1: revoking a refresh token ends the grant's access tokens too.
            store.revoke_family(family_id=token.family_id)
        else:
            store.revoke_token(token_id=token.id)


class ProviderUserInfo(UserInfoEndpoint):
    def get_issuer(self) -> str:
        return _bound(self).config.issuer

    def generate_user_info(self, user: Principal, scope: str) -> dict[str, Any]:
        return _bound(self).subject_claims(user, scope)


class ProviderEndSession(EndSessionEndpoint):
    def get_server_jwks(self) -> dict:
        return _bound(self).jwks()

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        """Our own ID token, judged by the provider's clock (expiry ignored,
        as the spec allows for hints; a token "from the future" is not ours)."""
        bound = _bound(self)
        try:
            token = jwt.decode(id_token_hint, KeySet.import_key_set(bound.jwks()), algorithms=self.get_algorithms())
            _HintClaims(now=bound.config.clock.timestamp(), leeway=60, iss={"essential": True, "value": bound.config.issuer}).validate(
                token.claims
            )
        except JoseError as exc:
            raise InvalidRequestError("Invalid 'id_token_hint'.") from exc
        return dict(token.claims)

    def resolve_client_from_id_token_claims(self, id_token_claims: dict) -> Client | None:
        # Our ID tokens name exactly one audience, written as a list.
        aud = id_token_claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        client_id = id_token_claims.get("azp") or (audiences[0] if len(audiences) == 1 else None)
        return _bound(self).store.get_client(client_id) if client_id else None

    def get_algorithms(self) -> list[str]:
        # Whatever our ID tokens are signed with, per client.
        return ID_TOKEN_SIGNING_ALGORITHMS

    def end_session(self, end_session_request: Any) -> None:
        _bound(self).end_browser_session(end_session_request.request.session)


class _HintClaims(jwt.JWTClaimsRegistry):
    def validate_exp(self, value: int) -> None:
        return None


class DPoPChallenge(InvalidDPoPProofError):
    """RFC 9449 §7.1: a resource's refusal of a DPoP-bound token: 401 with the DPoP challenge."""

    status_code = 401

    @classmethod
    def of(cls, refused: InvalidDPoPProofError) -> DPoPChallenge:
        return cls(refused.description, error=refused.error, nonce=refused.nonce)

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("WWW-Authenticate", resource_challenge(self.error))]


class _BoundBearerValidator(BearerTokenValidator):
    """Bearer tokens; a DPoP-bound token sent as a bearer is refused (§7.2)."""

    def __init__(self, bound: Binding, request: Any) -> None:
        super().__init__()
        self.bound, self.request = bound, request

    def authenticate_token(self, token_string: str) -> Token | None:
        token = self._find(token_string)
        if token is not None and token.dpop_jkt:
            raise DPoPChallenge("The access token is DPoP-bound: present it with a DPoP proof.", error="invalid_token")
        return token

    def _find(self, token_string: str) -> Token | None:
        token = self.bound.store.find_token(access_token=token_string)
        if token is None or token.subject is None:
            return None
        token.client = self.bound.store.get_client(token.client_id)
        token.user = self.bound.principal_for(
            subject=token.subject, acr=token.acr, amr=token.amr, auth_time=token.auth_time, context=token.context
        )
        return token if token.user is not None else None


class _DPoPTokenValidator(_BoundBearerValidator):
    """``Authorization: DPoP <token>`` with a proof of the key it is bound to."""

    TOKEN_TYPE = "dpop"

    def authenticate_token(self, token_string: str) -> Token | None:
        token = self._find(token_string)
        if token is None:
            return None
        if not token.dpop_jkt:
            raise DPoPChallenge("The access token is not DPoP-bound.", error="invalid_token")
        try:
            url = self.request.uri.split("?", 1)[0]
            self.bound.provider.check_dpop(
                self.bound,
                self.request,
                url=url,
                access_token=token_string,
                bound_to=token.dpop_jkt,
                algorithms=token.client.registration.signing_algorithms() if token.client is not None else DPOP_ALGORITHMS,
            )
        except InvalidDPoPProofError as refused:
            raise DPoPChallenge.of(refused) from None
        return token


class _RequestBoundProtector(ResourceProtector):
    """Authlib's UserInfoEndpoint calls ``acquire_token(scopes)`` without a
    request (its Flask protector reads a global); bind the request here."""

    def __init__(self, request: Any) -> None:
        super().__init__()
        self._request = request

    def acquire_token(self, scopes: Any = None) -> Token:
        if isinstance(scopes, str):
            scopes = [scopes]
        return self.validate_request(scopes, self._request)


def bearer_protector(bound: Binding, request: Any) -> ResourceProtector:
    protector = _RequestBoundProtector(request)
    protector.register_token_validator(_BoundBearerValidator(bound, request))
    protector.register_token_validator(_DPoPTokenValidator(bound, request))
    return protector
