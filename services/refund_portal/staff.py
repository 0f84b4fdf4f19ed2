"""The agency's staff accounts (社保经办机构), their roles and their login.

Roles: 经办员 ``clerk`` imports lists, corrects bank accounts and prepares
payment batches; 审核员 ``supervisor`` may do all that and also marks batches
paid and reads the audit log; 审计员 ``auditor`` reads records and the audit
log and changes nothing.

Login counts wrong passwords per account and failures per client address in
the shared store (:class:`shared.ratelimit.Limiter`); a locked account is
refused before its password is checked, and unknown accounts cost one argon2
verification too, so timing tells nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.refund_portal.models import StaffAccount
from shared.clock import Clock
from shared.db import Database
from shared.passwords import PasswordService, rehash_after_login
from shared.ratelimit import Limiter

__all__ = ["ROLES", "PERMISSIONS", "may", "StaffLogin", "LoginResult", "create_staff", "find_staff"]

ROLES = ("clerk", "supervisor", "auditor")
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "import": frozenset({"clerk", "supervisor"}),
    "correct": frozenset({"clerk", "supervisor"}),
    "export": frozenset({"clerk", "supervisor"}),
    "pay": frozenset({"supervisor"}),
    "audit": frozenset({"supervisor", "auditor"}),
}


def may(role: str | None, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def find_staff(session: Session, *, login_name: str) -> StaffAccount | None:
    return session.execute(select(StaffAccount).where(StaffAccount.login_name == login_name)).scalar_one_or_none()


def create_staff(
    session: Session, *, login_name: str, display_name: str, role: str, password_hash: str, clock: Clock
) -> StaffAccount:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    account = StaffAccount(
        login_name=login_name, display_name=display_name, role=role, password_hash=password_hash, active=True, created_at=clock.now()
    )
    session.add(account)
    session.flush()
    return account


@dataclass
class LoginResult:
    account: StaffAccount | None = None
    error: str | None = None  # key of messages.STAFF_ERROR
    left: int = 0


class StaffLogin:
    def __init__(self, *, passwords: PasswordService, per_account: Limiter, per_address: Limiter) -> None:
        self.passwords = passwords
        self.per_account = per_account
        self.per_address = per_address

    @property
    def lock_minutes(self) -> int:
        return max(self.per_account.window_seconds // 60, 1)

    def authenticate(self, db: Database, *, login_name: str, password: str, address: str) -> LoginResult:
        login_name = login_name.strip()
        if not login_name or not password:
            return LoginResult(error="empty")
        if self.per_address.is_blocked(address):
            return LoginResult(error="address")
        if self.per_account.is_blocked(login_name):
            return LoginResult(error="locked")
        with db.transaction() as s:
            account = find_staff(s, login_name=login_name)
            if account is not None:
                s.expunge(account)
        if not self.passwords.verify(account.password_hash if account else None, password) or account is None:
            self.per_address.hit(address)
            left = self.per_account.hit(login_name)
            return LoginResult(error="locked" if left == 0 else "wrong", left=left)
        if not account.active:
            return LoginResult(error="inactive")
        self.per_account.reset(login_name)
        rehash_after_login(db, self.passwords, StaffAccount, account_id=account.id, checked_hash=account.password_hash, password=password)
        return LoginResult(account=account)


def main(argv: list[str] | None = None) -> int:
    """``python -m services.refund_portal.staff create --login L --name N --role R``:
    add a staff account (settings from ``REFUND_*``; the password is asked
    for, or read from ``REFUND_NEW_STAFF_PASSWORD`` when not at a terminal)."""
    import argparse
    import getpass
    import os
    import sys

    from services.refund_portal.settings import RefundSettings
    from shared.clock import SystemClock

    parser = argparse.ArgumentParser(prog="python -m services.refund_portal.staff")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="add a staff account of the agency")
    create.add_argument("--login", required=True, help="login name (letters, digits, _; 4–40)")
    create.add_argument("--name", required=True, help="display name, e.g. 张敏")
    create.add_argument("--role", required=True, choices=ROLES)
    args = parser.parse_args(argv)
    if not (4 <= len(args.login) <= 40 and args.login.replace("_", "").isalnum() and args.login.isascii()):
        print("login must be 4–40 letters, digits or _", file=sys.stderr)
        return 2
    password = os.environ.get("REFUND_NEW_STAFF_PASSWORD") or (getpass.getpass("password: ") if sys.stdin.isatty() else "")
    if len(password) < 10:
        print("a staff password needs at least 10 characters", file=sys.stderr)
        return 2
    db = Database(RefundSettings().database_url)
    try:
        with db.transaction() as s:
            if find_staff(s, login_name=args.login) is not None:
                print(f"staff account {args.login} exists", file=sys.stderr)
                return 1
            create_staff(
                s, login_name=args.login, display_name=args.name, role=args.role, password_hash=PasswordService().hash(password), clock=SystemClock()
            )
    finally:
        db.dispose()
    print(f"staff account {args.login} ({args.role}) created")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
