"""办事大厅 staff accounts: password (argon2id) + TOTP (RFC 6238), roles.

Roles: ``hall_officer`` may record an in-person check and raise a unit to
五级（原L3）; ``auditor`` may only look. TOTP secrets are encrypted at rest
under their own keys (``staff_totp_keys``, :class:`TotpSecretCipher`), not
under ``secret_key``, so rotating that does not lock the staff out; a code is
accepted once (RFC 6238 §5.2) and failures lock the staff account like user
logins do.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.gdzwfw_idp.models import StaffAccount
from shared import totp
from shared.clock import Clock
from shared.db import Database
from shared.kvstore import KeyValueStore
from shared.passwords import PasswordService
from shared.ratelimit import Limiter

__all__ = [
    "StaffService",
    "StaffLogin",
    "TotpSecretCipher",
    "ROLES",
    "ROLE_DUTIES",
    "ROLE_HALL_OFFICER",
    "ROLE_AUDITOR",
    "SESSION_STAFF",
    "can_raise_level",
    "active_staff",
]

ROLE_HALL_OFFICER = "hall_officer"
ROLE_AUDITOR = "auditor"
ROLES = {ROLE_HALL_OFFICER: "办事大厅核验员", ROLE_AUDITOR: "审计员（只读）"}
# What only that role may do, as the refusal names it.
ROLE_DUTIES = {ROLE_HALL_OFFICER: "办理现场核验"}
# The staff member logged in to the console (a session of its own, apart from accounts' logins).
SESSION_STAFF = "staff_id"


def can_raise_level(role: str) -> bool:
    return role == ROLE_HALL_OFFICER


def active_staff(db: Database, *, staff_id: int) -> StaffAccount | None:
    """The staff member, detached, while the account is active."""
    with db.transaction() as s:
        staff = s.get(StaffAccount, staff_id)
        if staff is None or not staff.active:
            return None
        s.expunge(staff)
        return staff


def _fernet_for(key: str) -> Fernet:
    derived = hashlib.sha256(b"gd-login-chain staff-totp encryption\x00" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


class TotpSecretCipher:
    """Staff TOTP secrets at rest: the first key encrypts, every key decrypts
    (Fernet under each, MultiFernet over them), so a key is rotated by
    putting a new one first and re-encrypting (:meth:`reencrypt_all`).

    A configured key is stretched into a Fernet key as ``secret_key`` used to
    be, SHA-256 after a purpose label: an old ``secret_key`` listed as a key
    still decrypts what was encrypted under it before the keys were separate."""

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

    def reencrypt_all(self, db: Session) -> tuple[int, list[str]]:
        """Every stored secret again under the first key. Returns how many were
        re-encrypted and the login names whose secret no key decrypts (left
        as they are: an operator must re-enrol them or find the old key)."""
        done, unreadable = 0, []
        for staff in db.execute(select(StaffAccount).order_by(StaffAccount.id)).scalars():
            try:
                staff.totp_secret_encrypted = self._fernet.rotate(staff.totp_secret_encrypted.encode()).decode()
                done += 1
            except InvalidToken:
                unreadable.append(staff.login_name)
        return done, unreadable


@dataclass
class StaffLogin:
    staff_id: int | None = None
    error: str | None = None


class StaffService:
    def __init__(
        self,
        *,
        totp_keys: Sequence[str],
        passwords: PasswordService,
        kv: KeyValueStore,
        clock: Clock,
        skew: int,
        max_failures: int,
        lock_seconds: int,
    ) -> None:
        self.cipher = TotpSecretCipher(totp_keys)
        self.passwords, self.kv, self.clock, self.skew = passwords, kv, clock, skew
        self.failures = Limiter(kv, "staff-login", max_failures, lock_seconds)

    def encrypt_secret(self, secret: str) -> str:
        return self.cipher.encrypt(secret)

    def decrypt_secret(self, stored: str) -> str | None:
        return self.cipher.decrypt(stored)

    def create(self, db: Session, *, login_name: str, name: str, hall: str, role: str, password: str, secret: str) -> StaffAccount:
        staff = StaffAccount(
            login_name=login_name,
            name=name,
            hall=hall,
            role=role,
            password_hash=self.passwords.hash(password),
            totp_secret_encrypted=self.encrypt_secret(secret),
            active=True,
            created_at=self.clock.now(),
        )
        db.add(staff)
        db.flush()
        return staff

    def authenticate(self, db: Database, *, login_name: str, password: str, code: str) -> StaffLogin:
        login_name = (login_name or "").strip()
        if not login_name or not password or not code:
            return StaffLogin(error="请输入工号、密码和动态口令")
        if self.failures.is_blocked(login_name):
            return StaffLogin(error=f"验证失败次数过多，请{self.failures.window_seconds // 60}分钟后再试")
        with db.transaction() as s:
            staff = s.execute(select(StaffAccount).where(StaffAccount.login_name == login_name)).scalar_one_or_none()
            if staff is not None:
                s.expunge(staff)
        password_ok = self.passwords.verify(staff.password_hash if staff else None, password)
        step = None
        if staff is not None and password_ok:
            secret = self.decrypt_secret(staff.totp_secret_encrypted)
            step = totp.verify(secret, code, self.clock.timestamp(), skew=self.skew) if secret else None
        if staff is None or not password_ok or step is None or not staff.active:
            left = self.failures.hit(login_name)
            return StaffLogin(error="工号、密码或动态口令错误" + (f"，您还可以尝试{left}次" if left else "，账号已暂时锁定"))
        # RFC 6238 §5.2: one code, one login; and never an older code after a newer one.
        last = self.kv.get(f"staff-totp-last:{staff.id}")
        if (isinstance(last, int) and step <= last) or self.kv.incr(f"staff-totp-used:{staff.id}:{step}", 300) != 1:
            return StaffLogin(error="该动态口令已使用，请等待口令刷新后再登录")
        self.kv.set(f"staff-totp-last:{staff.id}", step, 86400)
        self.failures.reset(login_name)
        return StaffLogin(staff_id=staff.id)
