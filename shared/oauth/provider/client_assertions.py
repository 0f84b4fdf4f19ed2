"""Client authentication with ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9).

Authlib's :class:`~authlib.oauth2.rfc7523.JWTBearerClientAssertion` reads the
assertion, finds the client by ``sub`` and checks the signature against its
keys (:mod:`.client_keys`). The claims are checked here, at the provider's
clock: ``iss`` = ``sub`` = the client, ``aud`` this provider (its issuer, or
the endpoint the assertion was sent to, as RFC 7523 and FAPI 2.0 both
allow), ``exp`` present and not passed, ``jti`` never seen before (in the
database, committed at once: see ``oauth_used_jti``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import GuestProtocol, KeySet

from shared.oauth.provider.client_keys import CLIENT_SIGNING_ALGORITHMS, CLOCK_LEEWAY, verifying
from shared.oauth.provider.models import Client

__all__ = ["PrivateKeyJwt", "PRIVATE_KEY_JWT"]

PRIVATE_KEY_JWT = "private_key_jwt"


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, server: Any) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_LEEWAY)
        # The server's ``bound`` is read at each call: the event loop's server
        # is rebound to each request (see BoundProvider._attach).
        self.server = server

    def __call__(self, query_client: Any, request: Any) -> Any:
        with verifying(request.form.get("client_assertion")):
            return super().__call__(query_client, request)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=CLIENT_SIGNING_ALGORITHMS)
        except JoseError as error:
            raise InvalidClientError(description=f"client assertion: {error.description or error.error}") from error
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict) -> None:
        bound = self.server.bound
        now = bound.config.clock.timestamp()
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise InvalidClientError(description=f"client assertion: {error.description or error.error}") from error
        if claims["iss"] != claims["sub"]:
            raise InvalidClientError(description="client assertion: 'iss' and 'sub' must both be the client.")
        expires_at = dt.datetime.fromtimestamp(int(claims["exp"]) + self.leeway, tz=dt.UTC)
        if not bound.store.use_jti(client_id=str(claims["sub"]), jti=str(claims["jti"]), expires_at=expires_at):
            raise InvalidClientError(description="client assertion: 'jti' already used.")

    def get_audiences(self) -> list[str]:
        config = self.server.bound.config
        paths = config.paths
        return [config.issuer, *(config.issuer + path for path in (paths.token, paths.pushed_authorization))]

    def resolve_client_public_key(self, client: Client) -> Any:
        keys = self.server.bound.provider.client_keys.key_set(client)
        if keys is None:
            raise InvalidClientError(description="client assertion: the client has no keys registered.")
        allowed = client.registration.signing_algorithms(client.registration.token_endpoint_auth_signing_alg)

        # Authlib hands process_assertion_claims the key but not the client:
        # the client's own algorithms (FAPI 2.0 §5.4.1 for a fapi2 client, or
        # the one it registered) are judged as its key is picked.
        def key_for(token: GuestProtocol) -> KeySet:
            if token.headers().get("alg") not in allowed:
                raise UnsupportedAlgorithmError(f"the client signs with {', '.join(allowed)}")
            return keys

        return key_for
