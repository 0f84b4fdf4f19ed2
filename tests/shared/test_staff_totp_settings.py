"""Every staff console's TOTP key list is the same setting (shared.staff_totp.
StaffTotpSettings) under its service's prefix: newest first, a development
default, and a placeholder or short key refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.gdzwfw_idp.settings import IdpSettings
from services.hrss_isso.settings import IssoSettings
from services.refund_portal.settings import RefundSettings
from shared.staff_totp import DEV_STAFF_TOTP_KEY

REAL = "r" * 40
COMMON = {"database_url": "sqlite://", "secret_key": "s" * 40, "public_url": "https://example.org"}
SERVICES = {
    "GDZWFW_": (IdpSettings, {}),
    "ISSO_": (IssoSettings, {"gdzwfw_issuer": "https://gd.example", "gdzwfw_client_secret": "c"}),
    "REFUND_": (
        RefundSettings,
        {
            "isso_issuer": "https://i.example",
            "isso_client_secret": "c",
            "gdzwfw_verification_url": "https://v.example",
            "audit_keys": {"k1": REAL},
        },
    ),
}


@pytest.mark.parametrize("prefix", SERVICES)
def test_production_refuses_the_development_key(prefix: str) -> None:
    cls, extra = SERVICES[prefix]
    assert cls(environment="development", **COMMON, **extra).staff_totp_key_values == [DEV_STAFF_TOTP_KEY]
    for keys in (None, DEV_STAFF_TOTP_KEY, f"{REAL},short"):
        with pytest.raises(ValidationError, match="staff_totp_keys must be real secrets"):
            cls(environment="production", **COMMON, **extra, **({} if keys is None else {"staff_totp_keys": keys}))


@pytest.mark.parametrize("prefix", SERVICES)
def test_the_keys_come_from_the_services_own_variable(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cls, extra = SERVICES[prefix]
    older = "o" * 40
    monkeypatch.setenv(f"{prefix}STAFF_TOTP_KEYS", f"{REAL}, {older}")
    assert cls(environment="production", **COMMON, **extra).staff_totp_key_values == [REAL, older]
