"""DPoP proofs (RFC 9449): a client proves, per request, that it holds the
private key its tokens are bound to.

:class:`ProofChecker` is the one check of a request's ``DPoP`` header, used
by the token endpoints, userinfo and the refund API alike: exactly one
header; a JWT of ``typ: dpop+jwt`` signed by the public ``jwk`` in its own
header (asymmetric algorithms only), for this method (``htm``) and URL
without query (``htu``), issued within the window around now (``iat``), with
a ``jti`` used once (spent in the caller's shared store, so replicas agree),
with ``ath`` = the hash of the access token presented alongside it, from the
key the token is bound to (``cnf.jkt``), and, when the server asks for them,
a current server ``nonce``. Every refusal is an :class:`InvalidDPoPProofError`;
a token endpoint answers it as the OAuth error it is (400, §5), a resource
as the ``WWW-Authenticate: DPoP`` challenge :func:`resource_challenge` makes
of it (401, §7.1).

Nonces (§8) are stateless: an HMAC of the current time window under the
provider's secret, so every replica issues and accepts the same ones without
sharing state; the current and the previous window are accepted.

:func:`make_proof` is the client's side: what the relying parties send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey, thumbprint
from joserfc.jws import JWSRegistry

from shared.clock import Clock
from shared.oauth.provider.client_keys import CLIENT_SIGNING_ALGORITHMS

__all__ = [
    "DPOP_ALGORITHMS",
    "IAT_WINDOW",
    "InvalidDPoPProofError",
    "NonceSource",
    "Proof",
    "ProofChecker",
    "SpendJti",
    "access_token_hash",
    "make_proof",
    "resource_challenge",
]

DPOP_ALGORITHMS = CLIENT_SIGNING_ALGORITHMS
# How far a proof's iat may lie from now: a proof is made for the request it comes with.
IAT_WINDOW = 60
# A proof carries its public key in the header: an RSA key (PS256, RS256) of
# 4096 bits is about 1 KB there, and joserfc's default cap of 512 bytes would
# refuse every RSA proof. Still bounded, so a made-up header cannot be large.
_PROOFS = JWSRegistry(algorithms=DPOP_ALGORITHMS)
_PROOFS.max_header_length = 2048

# Records a proof's jti (the key names the proof's key and jti) until the
# timestamp given, past which the proof is stale anyway; False when it was
# recorded before. Blocking: the provider's database, or the key-value store.
SpendJti = Callable[[str, int], bool]


class InvalidDPoPProofError(OAuth2Error):
    """A refused proof: ``invalid_dpop_proof``, ``use_dpop_nonce`` with the
    nonce to retry with (§8), or ``invalid_token`` when the proof is good but
    the token is not bound to its key. At a token endpoint: 400 (§5)."""

    error = "invalid_dpop_proof"
    status_code = 400

    def __init__(self, description: str, *, error: str | None = None, nonce: str | None = None) -> None:
        super().__init__(description=description)
        if error is not None:
            self.error = error
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        return [*headers, ("DPoP-Nonce", self.nonce)] if self.nonce else headers


def resource_challenge(error: str | None = None) -> str:
    """RFC 9449 §7.1: the ``WWW-Authenticate`` challenge of a resource for
    DPoP-bound tokens; without ``error`` the bare one (no credentials)."""
    algs = f'algs="{" ".join(DPOP_ALGORITHMS)}"'
    return f'DPoP error="{error}", {algs}' if error else f"DPoP {algs}"


@dataclass(frozen=True)
class Proof:
    jkt: str
    jti: str
    iat: int
    alg: str

    def require_algorithm(self, allowed: Sequence[str]) -> None:
        """Refuse a proof signed otherwise than its client may sign (a FAPI
        2.0 client: §5.4.1); the proof is otherwise good, so checked apart."""
        if self.alg not in allowed:
            raise InvalidDPoPProofError(f"DPoP proof: this client signs with {', '.join(allowed)}")


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


class ProofChecker:
    """The request's proof, checked against everything RFC 9449 §4.3 and
    §7.1 ask. ``nonces``: every proof must carry a current server nonce."""

    def __init__(self, clock: Clock, *, nonces: NonceSource | None = None) -> None:
        self.clock, self.nonces = clock, nonces

    def check(
        self,
        headers: Sequence[str],
        *,
        method: str,
        url: str,
        spend: SpendJti,
        access_token: str | None = None,
        bound_to: str | None = None,
        algorithms: Sequence[str] = DPOP_ALGORITHMS,
    ) -> Proof:
        """``headers``: every ``DPoP`` header of the request. ``access_token``
        and ``bound_to`` (its ``cnf.jkt``): the token presented beside the
        proof, at a resource. ``algorithms``: what the client the proof comes
        from may sign with, when it is known. The checked proof, its jti
        spent; otherwise :class:`InvalidDPoPProofError`."""
        now = self.clock.timestamp()
        if len(headers) != 1:
            raise InvalidDPoPProofError("exactly one DPoP header is required")
        proof = self._verify(headers[0], method=method, url=url, now=now, access_token=access_token)
        # A good proof of another key is not a replay: judged before its jti is spent.
        if bound_to is not None and proof.jkt != bound_to:
            raise InvalidDPoPProofError("The DPoP proof is not signed by the key the token is bound to.", error="invalid_token")
        proof.require_algorithm(algorithms)
        if not spend(f"dpop\n{proof.jkt}\n{proof.jti}", proof.iat + IAT_WINDOW + 1):
            raise InvalidDPoPProofError("DPoP proof jti already used")
        return proof

    def _verify(self, header_value: str, *, method: str, url: str, now: int, access_token: str | None) -> Proof:
        try:
            compact = jws.extract_compact(header_value.encode("ascii"), registry=_PROOFS)
            header = compact.headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidDPoPProofError("DPoP proof is not a JWS") from exc
        if header.get("typ") != "dpop+jwt" or header.get("alg") not in DPOP_ALGORITHMS or not isinstance(header.get("jwk"), dict):
            raise InvalidDPoPProofError("DPoP proof header must have typ dpop+jwt, an asymmetric alg and a jwk")
        jwk = header["jwk"]
        if any(private in jwk for private in ("d", "p", "q", "dp", "dq", "qi")):
            raise InvalidDPoPProofError("DPoP proof jwk must be a public key")
        try:
            key = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}[jwk.get("kty")].import_key(jwk)
            jws.deserialize_compact(header_value, key, algorithms=[header["alg"]], registry=_PROOFS)
            claims = json.loads(compact.payload)
        except (KeyError, JoseError, ValueError, TypeError) as exc:
            raise InvalidDPoPProofError("DPoP proof signature does not verify with its jwk") from exc
        if not isinstance(claims, dict) or not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise InvalidDPoPProofError("DPoP proof has no jti")
        if claims.get("htm") != method:
            raise InvalidDPoPProofError("DPoP proof is for another method (htm)")
        if not isinstance(claims.get("htu"), str) or _without_query(claims["htu"]) != _without_query(url):
            raise InvalidDPoPProofError("DPoP proof is for another URL (htu)")
        iat = claims.get("iat")
        if not isinstance(iat, int) or abs(now - iat) > IAT_WINDOW:
            raise InvalidDPoPProofError("DPoP proof iat is outside the accepted window")
        if access_token is not None and claims.get("ath") != access_token_hash(access_token):
            raise InvalidDPoPProofError("DPoP proof ath does not match the access token")
        if self.nonces is not None:
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not self.nonces.is_valid(nonce, now):
                raise InvalidDPoPProofError("a current DPoP nonce is required", error="use_dpop_nonce", nonce=self.nonces.current(now))
        return Proof(jkt=thumbprint(jwk), jti=claims["jti"], iat=iat, alg=header["alg"])


def _without_query(url: str) -> str:
    # §4.3: htu is compared without query and fragment.
    return url.split("#", 1)[0].split("?", 1)[0]


def make_proof(
    key: ECKey | RSAKey | OKPKey, alg: str, *, method: str, url: str, now: int, access_token: str | None = None, nonce: str | None = None
) -> str:
    """A client's proof (§4.2) by ``key`` for one request; ``access_token``
    when one is presented beside it (``ath``), ``nonce`` when the server gave one."""
    claims: dict[str, object] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": _without_query(url), "iat": now}
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    return jwt.encode({"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}, claims, key)
