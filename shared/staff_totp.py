"""The staff consoles' second factor: password + TOTP (RFC 6238), each code
accepted once, failures of either locking the staff account.

Used by gdzwfw_idp's 办事大厅 console, the ISSO's agency console (whose
approvals raise units to L2: a password alone must not be enough) and the
refund portal's agency console. Each service gives its staff lookup (a
:data:`shared.password_login.Lookup` that fills ``totp_secret_encrypted``),
its messages, and a key list setting (:class:`StaffTotpSettings`).

TOTP secrets are encrypted at rest under their own keys, not under
``secret_key``, so rotating that never locks the staff out
(:class:`TotpSecretCipher`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import totp
from shared.clock import Clock
from shared.db import Database
from shared.kvstore import KeyValueStore
from shared.password_login import Credentials, Factor, Missing, Outcome, PasswordLogin
from shared.settings import weak_secret

__all__ = [
    "DEV_STAFF_TOTP_KEY",
    "StaffTotpSettings",
    "TotpSecretCipher",
    "Enrolment",
    "enrol",
    "StaffTotpLogin",
    "reencrypt_command",
    "enrol_again",
    "show_enrolment",
]

# The development default of every service's staff_totp_keys; production refuses it.
DEV_STAFF_TOTP_KEY = "dev-staff-totp-key-not-for-production"


class StaffTotpSettings(BaseModel):
    """The staff-console settings a service mixes into its own (``GDZWFW_``,
    ``ISSO_``, ``REFUND_`` prefixes: ``…_STAFF_TOTP_KEYS``)."""

    staff_totp_skew: int = Field(default=1, description="TOTP time steps accepted either side of now (RFC 6238 §5.2).")
    staff_totp_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEV_STAFF_TOTP_KEY)],
        min_length=1,
        description="Keys that encrypt the staff console's TOTP secrets at rest, comma-separated (or a JSON list), "
        "newest first: the first encrypts, every one decrypts. Apart from secret_key, so rotating that never locks staff out. "
        "To rotate: put a new key first, run `python -m services.<service>.manage reencrypt-staff-totp`, then drop the old "
        "key. A gdzwfw_idp database from before this setting has its secrets under secret_key: list that value last until "
        "re-encrypted. Each at least 32 characters in production; the default is a development placeholder, refused there.",
    )

    @field_validator("staff_totp_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        # One environment variable: "newest,older" or a JSON list.
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [key.strip() for key in text.split(",") if key.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_totp_keys(self) -> Any:
        # The mixin's host is a ServiceSettings: it has the environment.
        production = getattr(self, "environment", None) == "production"
        if production and any(weak_secret(key.get_secret_value()) for key in self.staff_totp_keys):
            raise ValueError("staff_totp_keys must be real secrets of at least 32 characters in production")
        return self

    @property
    def staff_totp_key_values(self) -> list[str]:
        return [key.get_secret_value() for key in self.staff_totp_keys]


def _fernet_for(key: str) -> Fernet:
    derived = hashlib.sha256(b"gd-login-chain staff-totp encryption\x00" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


class TotpSecretCipher:
    """Staff TOTP secrets at rest: the first key encrypts, every key decrypts
    (Fernet under each, MultiFernet over them), so a key is rotated by
    putting a new one first and re-encrypting (:meth:`reencrypt_all`).

    A configured key is stretched into a Fernet key as gdzwfw_idp's
    ``secret_key`` used to be, SHA-256 after a purpose label: an old
    ``secret_key`` listed as a key still decrypts what was encrypted under it
    before the keys were separate."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one staff TOTP key is needed")
        self._fernet = MultiFernet([_fernet_for(key) for key in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, stored: str) -> str | None:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            return None

    def reencrypt_all(self, db: Session, model: Any) -> tuple[int, list[str]]:
        """Every stored secret of ``model`` (``login_name``,
        ``totp_secret_encrypted``) again under the first key. Returns how many
        were re-encrypted and the login names whose secret no key decrypts
        (left as they are: an operator must re-enrol them or find the old key)."""
        done, unreadable = 0, []
        for staff in db.execute(select(model).where(model.totp_secret_encrypted.is_not(None)).order_by(model.login_name)).scalars():
            try:
                staff.totp_secret_encrypted = self._fernet.rotate(staff.totp_secret_encrypted.encode()).decode()
                done += 1
            except InvalidToken:
                unreadable.append(staff.login_name)
        return done, unreadable


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, shown once to the staff member
    encrypted: str  # what is stored
    uri: str  # otpauth:// for authenticator apps


def enrol(cipher: TotpSecretCipher, *, account: str, issuer: str, secret: str | None = None) -> Enrolment:
    """A new TOTP secret for a staff member (or ``secret``, for demo data)."""
    secret = secret or totp.new_secret()
    return Enrolment(secret, cipher.encrypt(secret), totp.provisioning_uri(secret, account=account, issuer=issuer))


class StaffTotpLogin:
    """Password (with the shared lockout) + a TOTP code, accepted once.

    Wrong codes count against the account like wrong passwords, on the same
    counter, and a code is checked only after the right password. A right
    code seen before, or older than the last one accepted, is refused without
    counting: RFC 6238 §5.2, "the verifier MUST NOT accept the second attempt
    of the same OTP"."""

    def __init__(self, *, login: PasswordLogin, cipher: TotpSecretCipher, kv: KeyValueStore, clock: Clock, skew: int) -> None:
        self.login, self.cipher, self.kv, self.clock, self.skew = login, cipher, kv, clock, skew

    @property
    def window_seconds(self) -> int:
        return self.login.window_seconds

    def _check_code(self, found: Credentials, code: str) -> Factor:
        secret = self.cipher.decrypt(found.totp_secret_encrypted) if found.totp_secret_encrypted else None
        step = totp.verify(secret, code, self.clock.timestamp(), skew=self.skew) if secret else None
        if step is None:
            return Factor.WRONG
        last = self.kv.get(f"staff-totp-last:{found.id}")
        # incr is atomic in every store: of two logins racing with one code, one wins.
        if (isinstance(last, int) and step <= last) or self.kv.incr(f"staff-totp-used:{found.id}:{step}", 300) != 1:
            return Factor.REPLAYED
        self.kv.set(f"staff-totp-last:{found.id}", step, 86400)
        return Factor.OK

    def authenticate(self, db: Database, *, login_name: str, password: str, code: str, address: str | None = None) -> Outcome:
        if not (code or "").strip():
            return Missing()
        return self.login.authenticate(
            db, login_name=login_name, password=password, address=address, second_factor=lambda found: self._check_code(found, code)
        )


def enrol_again(database_url: str, *, model: Any, login_name: str, settings: StaffTotpSettings, issuer: str) -> int:
    """A new TOTP secret for an existing staff member (enrolled before the
    second factor, or a lost phone), printed once; the old one stops working.
    The command's exit status: 1 when there is no such staff member."""
    second_factor = enrol(TotpSecretCipher(settings.staff_totp_key_values), account=login_name, issuer=issuer)
    db = Database(database_url)
    try:
        with db.transaction() as s:
            staff = s.execute(select(model).where(model.login_name == login_name)).scalar_one_or_none()
            if staff is None:
                print(f"no staff account {login_name}", file=sys.stderr)
                return 1
            staff.totp_secret_encrypted = second_factor.encrypted
    finally:
        db.dispose()
    show_enrolment(second_factor)
    return 0


def show_enrolment(second_factor: Enrolment) -> None:
    # Shown this once only: stored encrypted, never displayed again.
    print(f"TOTP secret (动态口令密钥), add it to the staff member's authenticator app: {second_factor.secret}")
    print(second_factor.uri)


def reencrypt_command(argv: list[str], *, service: str, settings: StaffTotpSettings, database_url: str, model: Any) -> int:
    """``python -m services.<service>.manage reencrypt-staff-totp``: every
    staff TOTP secret under the first configured key."""
    argparse.ArgumentParser(prog=f"python -m services.{service}.manage reencrypt-staff-totp").parse_args(argv)
    cipher = TotpSecretCipher(settings.staff_totp_key_values)
    db = Database(database_url)
    try:
        with db.transaction() as s:
            done, unreadable = cipher.reencrypt_all(s, model)
    finally:
        db.dispose()
    print(f"{service}: {done} staff TOTP secrets now under the first key")
    if unreadable:
        print(f"no configured key decrypts the TOTP secret of: {', '.join(unreadable)}", file=sys.stderr)
        return 1
    return 0
