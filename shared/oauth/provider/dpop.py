"""DPoP proofs (RFC 9449): a client proves, per request, that it holds the
private key its tokens are bound to.

:func:`verify_proof` checks one ``DPoP`` header: a JWT of ``typ: dpop+jwt``
signed by the public ``jwk`` in its own header (asymmetric algorithms only),
for this method (``htm``) and URL without query (``htu``), issued within the
window around now (``iat``), with a ``jti``, with ``ath`` = the hash of the
access token presented alongside it, and, when the server asks for them, a
current server ``nonce``. It returns the key's thumbprint (``jkt``), which a
bound token carries as ``cnf.jkt``. Whether the ``jti`` was seen before is
the caller's question (it belongs to the request's storage).

Nonces (§8) are stateless: an HMAC of the current time window under the
provider's secret, so every replica issues and accepts the same ones without
sharing state; the current and the previous window are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey, thumbprint

from shared.oauth.provider.client_keys import CLIENT_SIGNING_ALGORITHMS

__all__ = ["DPoPError", "NonceSource", "verify_proof", "DPOP_ALGORITHMS", "access_token_hash", "Proof"]

DPOP_ALGORITHMS = CLIENT_SIGNING_ALGORITHMS
# How far a proof's iat may lie from now: a proof is made for the request it comes with.
IAT_WINDOW = 60


class DPoPError(Exception):
    """``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce`` (§7.1, §8)."""

    def __init__(self, description: str, error: str = "invalid_dpop_proof") -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class Proof:
    jkt: str
    jti: str
    iat: int


def access_token_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class NonceSource:
    def __init__(self, secret: str, *, window: int = 300) -> None:
        self._key = hashlib.sha256(b"dpop-nonce\n" + secret.encode()).digest()
        self.window = window

    def _for(self, slot: int) -> str:
        mac = hmac.new(self._key, str(slot).encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode()

    def current(self, now: int) -> str:
        return self._for(now // self.window)

    def is_valid(self, nonce: str, now: int) -> bool:
        slot = now // self.window
        return any(hmac.compare_digest(nonce, self._for(s)) for s in (slot, slot - 1))


def verify_proof(
    header_value: str,
    *,
    method: str,
    url: str,
    now: int,
    access_token: str | None = None,
    nonces: NonceSource | None = None,
) -> Proof:
    """The checked proof, or :class:`DPoPError`. ``nonces``: require a current server nonce."""
    try:
        compact = jws.extract_compact(header_value.encode("ascii"))
        header = compact.headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise DPoPError("DPoP proof is not a JWS") from exc
    if header.get("typ") != "dpop+jwt" or header.get("alg") not in DPOP_ALGORITHMS or not isinstance(header.get("jwk"), dict):
        raise DPoPError("DPoP proof header must have typ dpop+jwt, an asymmetric alg and a jwk")
    jwk = header["jwk"]
    if any(private in jwk for private in ("d", "p", "q", "dp", "dq", "qi")):
        raise DPoPError("DPoP proof jwk must be a public key")
    try:
        key = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}[jwk.get("kty")].import_key(jwk)
        jws.deserialize_compact(header_value, key, algorithms=[header["alg"]])
        claims = json.loads(compact.payload)
    except (KeyError, JoseError, ValueError, TypeError) as exc:
        raise DPoPError("DPoP proof signature does not verify with its jwk") from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise DPoPError("DPoP proof has no jti")
    if claims.get("htm") != method:
        raise DPoPError("DPoP proof is for another method (htm)")
    if not isinstance(claims.get("htu"), str) or _without_query(claims["htu"]) != _without_query(url):
        raise DPoPError("DPoP proof is for another URL (htu)")
    iat = claims.get("iat")
    if not isinstance(iat, int) or abs(now - iat) > IAT_WINDOW:
        raise DPoPError("DPoP proof iat is outside the accepted window")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise DPoPError("DPoP proof ath does not match the access token")
    if nonces is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonces.is_valid(nonce, now):
            raise DPoPError("a current DPoP nonce is required", error="use_dpop_nonce")
    return Proof(jkt=thumbprint(jwk), jti=claims["jti"], iat=iat)


def _without_query(url: str) -> str:
    # §4.3: htu is compared without query and fragment.
    return url.split("#", 1)[0].split("?", 1)[0]
