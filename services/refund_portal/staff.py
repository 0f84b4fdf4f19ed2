"""The agency's staff accounts (社保经办机构), their roles and their login.

Roles: 经办员 ``clerk`` imports lists, corrects bank accounts and prepares
payment batches; 审核员 ``supervisor`` may do all that and also marks batches
paid and reads the audit log; 审计员 ``auditor`` reads records and the audit
log and changes nothing.

Login is :class:`shared.password_login.PasswordLogin` over these accounts:
lockout per account and per client address, argon2 for unknown accounts too.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.refund_portal import messages
from services.refund_portal.models import StaffAccount
from services.refund_portal.settings import RefundSettings
from shared.clock import Clock
from shared.db import Database
from shared.password_login import Credentials, Disabled, Locked, Missing, Outcome, PasswordLogin, Replayed, Throttled, Wrong
from shared.passwords import PasswordService
from shared.ratelimit import Limiter
from shared.staff_totp import StaffTotpLogin, TotpSecretCipher, enrol, enrol_again, show_enrolment
from shared.web.app import Runtime

__all__ = ["ROLES", "PERMISSIONS", "may", "build_staff_login", "staff_credentials", "login_error", "create_staff", "find_staff"]

ROLES = ("clerk", "supervisor", "auditor")
# The name authenticator apps show beside the staff member's codes.
TOTP_ISSUER = "失业保险稳岗返还"
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
    session: Session, *, login_name: str, display_name: str, role: str, password_hash: str, totp_secret_encrypted: str, clock: Clock
) -> StaffAccount:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    account = StaffAccount(
        login_name=login_name,
        display_name=display_name,
        role=role,
        password_hash=password_hash,
        totp_secret_encrypted=totp_secret_encrypted,
        active=True,
        created_at=clock.now(),
    )
    session.add(account)
    session.flush()
    return account


def staff_credentials(session: Session, login_name: str) -> Credentials | None:
    account = find_staff(session, login_name=login_name)
    if account is None:
        return None
    session.expunge(account)  # the login route reads it after the transaction
    secret = account.totp_secret_encrypted
    return Credentials(account.id, account.password_hash, account.active, account=account, totp_secret_encrypted=secret)


def build_staff_login(settings: RefundSettings, runtime: Runtime, *, passwords: PasswordService) -> StaffTotpLogin:
    """Password (shared lockout per account and per address) + TOTP: the agency
    console marks payments and corrects bank accounts, a password alone is not enough."""
    window, kv = settings.staff_login_lock_seconds, runtime.kv
    password_login = PasswordLogin(
        lookup=staff_credentials,
        model=StaffAccount,
        passwords=passwords,
        per_account=Limiter(kv, "staff-login-account", settings.staff_login_max_failures, window),
        per_address=Limiter(kv, "staff-login-address", settings.staff_login_max_per_address, window),
    )
    cipher = TotpSecretCipher(settings.staff_totp_key_values)
    return StaffTotpLogin(login=password_login, cipher=cipher, kv=kv, clock=runtime.clock, skew=settings.staff_totp_skew)


# The outcome types of the shared login, as keys of messages.STAFF_ERROR.
_ERROR_KEYS = {Missing: "empty", Throttled: "address", Locked: "locked", Disabled: "inactive", Replayed: "code_used"}


def login_error(outcome: Outcome) -> str:
    """The agency's message for a refused staff login."""
    minutes = max(getattr(outcome, "seconds", 60) // 60, 1)
    if isinstance(outcome, Wrong):
        key = "wrong" if outcome.left else "locked"
        return messages.STAFF_ERROR[key].format(left=outcome.left, minutes=minutes)
    return messages.STAFF_ERROR[_ERROR_KEYS.get(type(outcome), "wrong")].format(left=0, minutes=minutes)


def main(argv: list[str] | None = None) -> int:
    """``python -m services.refund_portal.staff create --login L --name N --role R``:
    add a staff account (settings from ``REFUND_*``; the password is asked
    for, or read from ``REFUND_NEW_STAFF_PASSWORD`` when not at a terminal) and
    print its TOTP secret and ``otpauth://`` URI once. ``… staff enrol-totp
    --login L`` gives an existing account a new secret (staff from before the
    second factor, a lost phone)."""
    import argparse
    import getpass
    import os
    import sys

    from shared.clock import SystemClock

    parser = argparse.ArgumentParser(prog="python -m services.refund_portal.staff")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="add a staff account of the agency")
    create.add_argument("--login", required=True, help="login name (letters, digits, _; 4–40)")
    create.add_argument("--name", required=True, help="display name, e.g. 张敏")
    create.add_argument("--role", required=True, choices=ROLES)
    again = sub.add_parser("enrol-totp", help="give a staff account a new TOTP secret (the old one stops working)")
    again.add_argument("--login", required=True)
    args = parser.parse_args(argv)
    if args.command == "enrol-totp":
        settings = RefundSettings()
        return enrol_again(settings.database_url, model=StaffAccount, login_name=args.login, settings=settings, issuer=TOTP_ISSUER)
    if not (4 <= len(args.login) <= 40 and args.login.replace("_", "").isalnum() and args.login.isascii()):
        print("login must be 4–40 letters, digits or _", file=sys.stderr)
        return 2
    password = os.environ.get("REFUND_NEW_STAFF_PASSWORD") or (getpass.getpass("password: ") if sys.stdin.isatty() else "")
    if len(password) < 10:
        print("a staff password needs at least 10 characters", file=sys.stderr)
        return 2
    settings = RefundSettings()
    second_factor = enrol(TotpSecretCipher(settings.staff_totp_key_values), account=args.login, issuer=TOTP_ISSUER)
    db = Database(settings.database_url)
    try:
        with db.transaction() as s:
            if find_staff(s, login_name=args.login) is not None:
                print(f"staff account {args.login} exists", file=sys.stderr)
                return 1
            create_staff(
                s,
                login_name=args.login,
                display_name=args.name,
                role=args.role,
                password_hash=PasswordService().hash(password),
                totp_secret_encrypted=second_factor.encrypted,
                clock=SystemClock(),
            )
    finally:
        db.dispose()
    print(f"staff account {args.login} ({args.role}) created")
    show_enrolment(second_factor)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
