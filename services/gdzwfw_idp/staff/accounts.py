"""办事大厅 staff accounts: password (argon2id) + TOTP (RFC 6238), roles.

Roles: ``hall_officer`` may record an in-person check and raise a unit to
五级（原L3）; ``auditor`` may only look. The second factor is the shared one
(:mod:`shared.staff_totp`): secrets encrypted at rest under their own keys
(``staff_totp_keys``), each code accepted once (RFC 6238 §5.2), failures
locking the staff account like user logins do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.gdzwfw_idp.models import StaffAccount
from shared.clock import Clock
from shared.db import Database
from shared.kvstore import KeyValueStore
from shared.password_login import Credentials, Locked, LoggedIn, Missing, Outcome, PasswordLogin, Replayed, Wrong
from shared.passwords import PasswordService
from shared.ratelimit import Limiter
from shared.staff_totp import StaffTotpLogin, TotpSecretCipher

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


def staff_credentials(db: Session, login_name: str) -> Credentials | None:
    staff = db.execute(select(StaffAccount).where(StaffAccount.login_name == login_name)).scalar_one_or_none()
    if staff is None:
        return None
    return Credentials(staff.id, staff.password_hash, staff.active, totp_secret_encrypted=staff.totp_secret_encrypted)


@dataclass
class StaffLogin:
    staff_id: int | None = None
    error: str | None = None


def login_error(outcome: Outcome) -> str:
    """The console's message for a refused staff login."""
    match outcome:
        case Missing():
            return "请输入工号、密码和动态口令"
        case Locked(seconds=seconds):
            return f"验证失败次数过多，请{seconds // 60}分钟后再试"
        case Replayed():
            return "该动态口令已使用，请等待口令刷新后再登录"
        case Wrong(left=left):
            return "工号、密码或动态口令错误" + (f"，您还可以尝试{left}次" if left else "，账号已暂时锁定")
    # Disabled: known only to whoever has both factors, told no more than a wrong one.
    return "工号、密码或动态口令错误"


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
        self.passwords, self.clock = passwords, clock
        # One counter per staff login name for wrong passwords and codes alike;
        # no per-address counter (the halls' staff share few addresses).
        failures = Limiter(kv, "staff-login", max_failures, lock_seconds)
        password_login = PasswordLogin(lookup=staff_credentials, model=StaffAccount, passwords=passwords, per_account=failures)
        self.login = StaffTotpLogin(login=password_login, cipher=self.cipher, kv=kv, clock=clock, skew=skew)

    def create(self, db: Session, *, login_name: str, name: str, hall: str, role: str, password: str, secret: str) -> StaffAccount:
        staff = StaffAccount(
            login_name=login_name,
            name=name,
            hall=hall,
            role=role,
            password_hash=self.passwords.hash(password),
            totp_secret_encrypted=self.cipher.encrypt(secret),
            active=True,
            created_at=self.clock.now(),
        )
        db.add(staff)
        db.flush()
        return staff

    def authenticate(self, db: Database, *, login_name: str, password: str, code: str) -> StaffLogin:
        outcome = self.login.authenticate(db, login_name=login_name, password=password, code=code)
        return StaffLogin(staff_id=outcome.id) if isinstance(outcome, LoggedIn) else StaffLogin(error=login_error(outcome))
