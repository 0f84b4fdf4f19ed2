"""Time-based one-time passwords, RFC 6238 (HOTP, RFC 4226, over time steps).

HMAC-SHA1, 6 digits, 30-second steps: what every authenticator app speaks.
:func:`verify` returns the matched time step so a caller can refuse a code
that was already used (RFC 6238 §5.2: "the verifier MUST NOT accept the
second attempt of the same OTP").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = ["new_secret", "hotp", "totp", "verify", "provisioning_uri"]


def new_secret(nbytes: int = 20) -> str:
    """A base32 secret (160 bits, RFC 4226 §4 recommends at least 128)."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper().replace(" ", "")
    padded += "=" * (-len(padded) % 8)
    return base64.b32decode(padded)


def hotp(secret: str, counter: int, *, digits: int = 6) -> str:
    """RFC 4226 §5.3: dynamic truncation of HMAC-SHA1(key, counter)."""
    mac = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def totp(secret: str, at: float, *, step: int = 30, digits: int = 6) -> str:
    return hotp(secret, int(at // step), digits=digits)


def verify(secret: str, code: str, at: float, *, step: int = 30, skew: int = 1, digits: int = 6) -> int | None:
    """The time step ``code`` belongs to (within ``skew`` steps of ``at``), or None."""
    code = (code or "").strip()
    if len(code) != digits or not code.isdigit():
        return None
    now_step = int(at // step)
    for candidate in range(now_step - skew, now_step + skew + 1):
        if hmac.compare_digest(hotp(secret, candidate, digits=digits), code):
            return candidate
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """``otpauth://`` URI for authenticator apps (Key Uri Format)."""
    label = quote(f"{issuer}:{account}")
    return f"otpauth://totp/{label}?{urlencode({'secret': secret, 'issuer': issuer, 'algorithm': 'SHA1', 'digits': 6, 'period': 30})}"
