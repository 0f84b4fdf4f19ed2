"""RFC 6238 / RFC 4226 test vectors for shared.totp."""

from __future__ import annotations

import base64

import pytest

from shared.totp import hotp, new_secret, provisioning_uri, totp, verify

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("counter", "code"),
    list(enumerate(["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"])),
)
def test_rfc4226_appendix_d(counter: int, code: str) -> None:
    assert hotp(RFC_SECRET, counter) == code


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_appendix_b_sha1(at: int, code: str) -> None:
    assert totp(RFC_SECRET, at, digits=8) == code


def test_verify_accepts_the_neighbouring_steps_only() -> None:
    secret = new_secret()
    at = 1_800_000_000
    assert verify(secret, totp(secret, at), at) == at // 30
    assert verify(secret, totp(secret, at - 30), at) == at // 30 - 1
    assert verify(secret, totp(secret, at + 30), at) == at // 30 + 1
    assert verify(secret, totp(secret, at - 60), at) is None
    assert verify(secret, "12345", at) is None and verify(secret, "abcdef", at) is None


def test_provisioning_uri() -> None:
    uri = provisioning_uri("ABC", account="hall_officer", issuer="广东省统一身份认证平台")
    assert uri.startswith("otpauth://totp/") and "secret=ABC" in uri and "period=30" in uri
