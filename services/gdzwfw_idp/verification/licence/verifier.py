"""电子营业执照核验 and 微信扫码 login: the licence authority's signed assertion.

The page shows a QR code for a one-time session; the licence wallet (the
WeChat 电子营业执照 mini-program; here a stand-in) asks its holder to confirm
and sends the provider a JWS (ES256) signed by the licence authority:

    header  {"alg": "ES256", "typ": "licence-assertion+jwt", "kid"?}
    claims  {"iss", "aud": <this provider's issuer>, "sid": <the QR session>,
             "jti", "iat", "exp", "uscc", "org_name", "legal_rep_name"?,
             "scope": "电子政务-市场监管-政务服务网"}

The provider accepts it only if the signature verifies with the configured
authority key (ES256 only), ``iss``/``aud``/``sid`` are as expected, it is
current and short-lived, its scope is the seed's authorisation scope, the USCC
is valid, and its ``jti`` was never seen before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from shared.clock import Clock
from shared.identifiers import IdentifierError, validate_uscc
from shared.kvstore import KeyValueStore

__all__ = ["LicenceError", "LicenceAssertion", "LicenceVerifier", "sign_assertion", "ASSERTION_TYPE"]

ASSERTION_TYPE = "licence-assertion+jwt"


class LicenceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LicenceAssertion:
    uscc: str
    org_name: str
    legal_rep_name: str | None
    jti: str
    sid: str


def sign_assertion(private_key_pem: bytes, claims: dict[str, Any]) -> str:
    """What the licence authority's wallet does (the stand-ins and tests call it)."""
    key = ECKey.import_key(private_key_pem)
    return jwt.encode({"alg": "ES256", "typ": ASSERTION_TYPE}, claims, key, algorithms=["ES256"])


class LicenceVerifier:
    def __init__(
        self, *, public_key_file: Path | None, issuer: str, audience: str, scope: str, max_age: int, kv: KeyValueStore, clock: Clock
    ) -> None:
        self.public_key_file = public_key_file
        self.issuer, self.audience, self.scope, self.max_age = issuer, audience, scope, max_age
        self.kv, self.clock = kv, clock
        self._key: ECKey | None = None
        self._lock = threading.Lock()

    def configured(self) -> bool:
        return self.public_key_file is not None and self.public_key_file.exists()

    def _public_key(self) -> ECKey:
        with self._lock:
            if self._key is None:
                if not self.configured():
                    raise LicenceError("not_configured", "电子营业执照核验服务暂不可用，请使用其他方式核验")
                self._key = ECKey.import_key(self.public_key_file.read_bytes())  # type: ignore[union-attr]
            return self._key

    def verify(self, token: str, *, sid: str) -> LicenceAssertion:
        key = self._public_key()
        try:
            header = jws.extract_compact(token.encode()).protected
            if header.get("alg") != "ES256" or header.get("typ") != ASSERTION_TYPE:
                raise LicenceError("header", "电子营业执照授权凭证格式不正确")
            decoded = jwt.decode(token, key, algorithms=["ES256"])
        except LicenceError:
            raise
        except (JoseError, ValueError, TypeError):
            raise LicenceError("signature", "电子营业执照授权凭证签名无效") from None
        claims = decoded.claims
        now = self.clock.timestamp()
        if claims.get("iss") != self.issuer:
            raise LicenceError("issuer", "电子营业执照授权凭证不是由电子营业执照系统签发")
        aud = claims.get("aud")
        if aud != self.audience and not (isinstance(aud, list) and self.audience in aud):
            raise LicenceError("audience", "电子营业执照授权凭证不是发给本平台的")
        if claims.get("sid") != sid:
            raise LicenceError("session", "电子营业执照授权凭证与本次扫码不匹配")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not 0 < exp - iat <= self.max_age or iat > now + 60:
            raise LicenceError("lifetime", "电子营业执照授权凭证的有效期不正确")
        if exp <= now:
            raise LicenceError("expired", "电子营业执照授权凭证已过期，请重新扫码")
        if claims.get("scope") != self.scope:
            raise LicenceError("scope", f"电子营业执照的授权事项不是“{self.scope}”，请在小程序中选择正确的授权事项")
        try:
            uscc = validate_uscc(str(claims.get("uscc") or ""))
        except IdentifierError:
            raise LicenceError("uscc", "电子营业执照授权凭证中的统一社会信用代码无效") from None
        org_name = str(claims.get("org_name") or "").strip()
        jti = str(claims.get("jti") or "")
        if not org_name or not jti:
            raise LicenceError("claims", "电子营业执照授权凭证内容不完整")
        # Single use: the jti is remembered for at least as long as the assertion lives.
        if self.kv.incr(f"licence-jti:{jti}", max(exp - now, 1) + 60) != 1:
            raise LicenceError("replayed", "该电子营业执照授权凭证已使用过，请重新扫码")
        rep = claims.get("legal_rep_name")
        return LicenceAssertion(uscc=uscc, org_name=org_name, legal_rep_name=str(rep) if rep else None, jti=jti, sid=sid)
