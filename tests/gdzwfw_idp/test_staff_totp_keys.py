"""Staff TOTP secrets live under their own keys (``GDZWFW_STAFF_TOTP_KEYS``),
not under the secret key: a new secret key keeps the staff console working,
a new first key still reads the old secrets, and ``manage
reencrypt-staff-totp`` moves them under it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from services.gdzwfw_idp import manage
from services.gdzwfw_idp.app import create_app
from services.gdzwfw_idp.demo import DEMO_STAFF, DEMO_STAFF_PASSWORD
from services.gdzwfw_idp.settings import DEV_STAFF_TOTP_KEY, IdpSettings
from services.gdzwfw_idp.staff.accounts import TotpSecretCipher
from shared.passwords import PasswordService
from shared.totp import totp
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.journeys import csrf

OFFICER = DEMO_STAFF[0]
NEW_KEY = "staff-totp-key-2027-0123456789abcdef0123456789"
NEW_SECRET_KEY = "another-secret-key-0123456789abcdef0123456789"


@contextmanager
def restarted(idp: Idp, **changes) -> Iterator[TestClient]:
    """The same database served by an app built with changed settings, as
    after an operator changed the environment and restarted the service."""
    settings = idp.settings.model_copy(update=changes)
    app = create_app(settings, clock=idp.clock, passwords=PasswordService(time_cost=1, memory_cost=1024))
    with TestClient(app, base_url=ISSUER) as client:
        yield client


def staff_login_status(client: TestClient, idp: Idp) -> int:
    """Log the officer in with the current code; a fresh time step each time
    (a code is accepted once)."""
    idp.clock.advance(30)
    page = client.get("/staff/login")
    code = totp(OFFICER["secret"], idp.clock.timestamp())
    data = {"csrf_token": csrf(page.text), "login_name": OFFICER["login_name"], "password": DEMO_STAFF_PASSWORD, "totp": code}
    return client.post("/staff/login", data=data, follow_redirects=False).status_code


def keys(*values: str) -> list[SecretStr]:
    return [SecretStr(v) for v in values]


def test_the_console_still_logs_staff_in_after_the_secret_key_changes(idp: Idp) -> None:
    with restarted(idp, secret_key=SecretStr(NEW_SECRET_KEY)) as client:
        assert staff_login_status(client, idp) == 303


def test_a_new_first_key_still_reads_the_old_secrets(idp: Idp) -> None:
    with restarted(idp, staff_totp_keys=keys(NEW_KEY, DEV_STAFF_TOTP_KEY)) as client:
        assert staff_login_status(client, idp) == 303
    # The secrets are still under the old key: without it, no login.
    with restarted(idp, staff_totp_keys=keys(NEW_KEY)) as client:
        assert staff_login_status(client, idp) == 400


def test_the_first_key_encrypts() -> None:
    sealed = TotpSecretCipher([NEW_KEY, DEV_STAFF_TOTP_KEY]).encrypt(OFFICER["secret"])
    assert TotpSecretCipher([NEW_KEY]).decrypt(sealed) == OFFICER["secret"]
    assert TotpSecretCipher([DEV_STAFF_TOTP_KEY]).decrypt(sealed) is None


def test_a_secret_encrypted_under_the_secret_key_is_read_when_that_key_is_listed() -> None:
    # How secrets were stored before the keys were separate (the var/ demo
    # databases devtools/stack.py still reads): Fernet under SHA-256 of a
    # purpose label and the secret key.
    old_secret_key = "dev-secret-key-not-for-production"
    derived = hashlib.sha256(b"gd-login-chain staff-totp encryption\x00" + old_secret_key.encode()).digest()
    stored = Fernet(base64.urlsafe_b64encode(derived)).encrypt(OFFICER["secret"].encode()).decode()
    assert TotpSecretCipher([DEV_STAFF_TOTP_KEY, old_secret_key]).decrypt(stored) == OFFICER["secret"]
    assert TotpSecretCipher([DEV_STAFF_TOTP_KEY]).decrypt(stored) is None


def _manage_env(monkeypatch, idp: Idp, totp_keys: str) -> None:
    monkeypatch.setenv("GDZWFW_DATABASE_URL", idp.settings.database_url)
    monkeypatch.setenv("GDZWFW_ENVIRONMENT", "development")
    monkeypatch.setenv("GDZWFW_SECRET_KEY", idp.settings.secret_key.get_secret_value())
    monkeypatch.setenv("GDZWFW_PUBLIC_URL", ISSUER)
    monkeypatch.setenv("GDZWFW_STAFF_TOTP_KEYS", totp_keys)


def test_reencrypting_moves_every_secret_under_the_first_key(idp: Idp, monkeypatch, capsys) -> None:
    _manage_env(monkeypatch, idp, f"{NEW_KEY},{DEV_STAFF_TOTP_KEY}")
    assert manage.reencrypt_staff_totp([]) == 0
    assert f"{len(DEMO_STAFF)} staff TOTP secrets now under the first key" in capsys.readouterr().out
    # The old key can go now.
    with restarted(idp, staff_totp_keys=keys(NEW_KEY)) as client:
        assert staff_login_status(client, idp) == 303


def test_reencrypting_names_the_staff_whose_secret_no_key_reads(idp: Idp, monkeypatch, capsys) -> None:
    _manage_env(monkeypatch, idp, NEW_KEY)
    assert manage.reencrypt_staff_totp([]) == 1
    assert OFFICER["login_name"] in capsys.readouterr().err
    # Left as they were: the old key still reads them.
    with restarted(idp) as client:
        assert staff_login_status(client, idp) == 303


# -- the setting ---------------------------------------------------------------------
PRODUCTION = {"environment": "production", "database_url": "sqlite://", "secret_key": NEW_SECRET_KEY, "public_url": ISSUER}


@pytest.mark.parametrize("value", [None, DEV_STAFF_TOTP_KEY, "too-short", f"{NEW_KEY},{DEV_STAFF_TOTP_KEY}"])
def test_production_refuses_a_placeholder_or_short_key(value: str | None) -> None:
    fields = dict(PRODUCTION) if value is None else {**PRODUCTION, "staff_totp_keys": value}
    with pytest.raises(ValidationError, match="staff_totp_keys must be real secrets"):
        IdpSettings(**fields)


def test_the_keys_come_comma_separated_or_as_a_json_list(monkeypatch) -> None:
    older = "o" * 40
    monkeypatch.setenv("GDZWFW_STAFF_TOTP_KEYS", f" {NEW_KEY} , {older} ")
    assert [k.get_secret_value() for k in IdpSettings(**PRODUCTION).staff_totp_keys] == [NEW_KEY, older]
    monkeypatch.setenv("GDZWFW_STAFF_TOTP_KEYS", f'["{NEW_KEY}", "{older}"]')
    assert [k.get_secret_value() for k in IdpSettings(**PRODUCTION).staff_totp_keys] == [NEW_KEY, older]
