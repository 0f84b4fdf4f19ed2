"""Signed request objects (RFC 9101, JAR) in the ``request`` parameter, at
/authorize and at the PAR endpoint.

Authlib's :class:`~authlib.oauth2.rfc9101.JWTAuthenticationRequest` verifies
the signature against the client's keys and the ``client_id`` claim; RFC
9101 §6.3 and FAPI 2.0 Message Signing ask more, checked here: ``iss`` is
the client, ``aud`` this provider, ``exp`` present and not passed, ``nbf``
not ahead. Then the object's claims *are* the request (§5: parameters
outside it are ignored), as strings like any other request's parameters, so
an essential ``acr`` in its ``claims`` is read exactly as one in the query.
``request_uri`` pointing at the client's server is not supported: the only
``request_uri`` served is one the PAR endpoint issued (:mod:`.pushed`).
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc9101 import JWTAuthenticationRequest
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from joserfc import jwt
from joserfc.errors import UnsupportedAlgorithmError

from shared.clock import Clock
from shared.oauth.adapter import StarletteOAuth2Request
from shared.oauth.provider.client_keys import CLIENT_SIGNING_ALGORITHMS, CLOCK_LEEWAY, ClientKeys, verifying
from shared.oauth.provider.models import Client

__all__ = ["RequestObjects"]

# The JWT's own claims, not authorization parameters.
_ENVELOPE = ("iss", "aud", "exp", "nbf", "iat", "jti")


class RequestObjects(JWTAuthenticationRequest):
    def __init__(self, *, issuer: str, clock: Clock, keys: ClientKeys) -> None:
        super().__init__(support_request=True, support_request_uri=False)
        self.issuer, self.clock, self.keys = issuer, clock, keys

    @property
    def claims_validator(self) -> jwt.JWTClaimsRegistry:  # type: ignore[override]
        # Authlib's validates client_id only, and by the system clock; ours
        # runs at the provider's clock (nbf, when present, is checked too).
        return jwt.JWTClaimsRegistry(
            now=self.clock.timestamp(),
            leeway=CLOCK_LEEWAY,
            client_id={"essential": True},
            aud={"essential": True, "value": self.issuer},
            exp={"essential": True},
        )

    def expand(self, server: Any, req: StarletteOAuth2Request) -> None:
        """Replace ``req``'s parameters with its verified request object's.
        Refused, ``req`` keeps the parameters it came with (the error's
        ``state`` and redirect are judged from those)."""
        outer = req.payload
        try:
            with verifying(req.payload.data.get("request")):
                self.parse_authorization_request(server, req)
            claims = dict(req.payload.data)
            if claims.get("iss") != claims["client_id"]:
                raise InvalidRequestObjectError(description="Request object: 'iss' must be the client.")
        except InvalidRequestError as error:
            req.payload = outer
            if isinstance(error.__cause__, UnsupportedAlgorithmError):
                # Authlib calls an algorithm the client may not use an invalid
                # request; it is the object that is invalid (RFC 9101 §6.3).
                raise InvalidRequestObjectError(description="Request object: signed with an algorithm this client may not use.") from error
            raise
        except OAuth2Error:
            req.payload = outer
            raise
        req.use_params([(name, _as_parameter(value)) for name, value in claims.items() if name not in _ENVELOPE])

    # -- Authlib's extension points ------------------------------------------
    def resolve_client_public_key(self, client: Client) -> Any:
        keys = self.keys.key_set(client)
        if keys is None:
            raise InvalidRequestObjectError(description="The client has registered no keys to verify request objects with.")
        return keys

    def get_server_metadata(self) -> dict[str, Any]:
        return {"request_object_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS}

    def get_request_object_signing_algorithms(self, client: Client) -> list[str]:
        # FAPI 2.0 §5.4.1 for a fapi2 client, or the one algorithm it registered.
        return client.registration.signing_algorithms(client.registration.request_object_signing_alg)

    def get_client_require_signed_request_object(self, client: Client) -> bool:
        return False


def _as_parameter(value: Any) -> str:
    # A request object's claims are JSON values; parameters are strings
    # (``claims`` and ``max_age`` as they would be in a query).
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
