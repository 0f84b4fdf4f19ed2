"""Operator commands for hrss_isso (settings from ``ISSO_*`` variables).

    python -m services.hrss_isso.manage migrate
    python -m services.hrss_isso.manage rotate-keys
    python -m services.hrss_isso.manage reencrypt-staff-totp
    python -m services.hrss_isso.manage serve [--host H] [--port P] [--workers N]
    python -m services.hrss_isso.manage create-staff --login L --name N --agency A --role authcode_review [--role …]
    python -m services.hrss_isso.manage enrol-staff-totp --login L

``create-staff`` adds a staff account of a social-insurance agency; the
password is read from ``ISSO_NEW_STAFF_PASSWORD`` or asked for, and must
follow the ISSO's password rule. It prints the new member's TOTP secret and
``otpauth://`` URI once (the console asks for 动态口令); ``enrol-staff-totp`` gives an existing
staff member a new one (staff from before the second factor, a lost phone). Roles: ``authcode_review`` (approve,
reject, record window applications) and ``authcode_view`` (look only).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from services.hrss_isso.settings import IssoSettings
from shared.cli import ServiceCli

ROLES = ("authcode_review", "authcode_view")
# The name authenticator apps show beside the staff member's codes.
TOTP_ISSUER = "广东人社统一认证"

cli = ServiceCli(
    name="hrss_isso",
    settings_cls=IssoSettings,
    default_port=8002,
    provider_tables="services.hrss_isso.models:provider_tables",
    staff_totp_model="services.hrss_isso.models:Staff",
)
app_factory = cli.app_factory


def create_staff(argv: list[str]) -> int:
    from services.hrss_isso.staff.accounts import create_staff as add_staff
    from services.hrss_isso.staff.accounts import staff_credentials
    from shared.account_rules import RuleError, check_hrss_login_account, check_hrss_password
    from shared.clock import SystemClock
    from shared.db import Database
    from shared.passwords import PasswordService
    from shared.staff_totp import TotpSecretCipher, enrol, show_enrolment

    parser = argparse.ArgumentParser(prog="python -m services.hrss_isso.manage create-staff")
    parser.add_argument("--login", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--agency", required=True)
    parser.add_argument("--role", action="append", choices=ROLES, required=True)
    args = parser.parse_args(argv)
    settings = IssoSettings()
    password = os.environ.get("ISSO_NEW_STAFF_PASSWORD") or getpass.getpass("password: ")
    try:
        check_hrss_login_account(args.login)
        check_hrss_password(password, max_keyboard_run=settings.password_max_keyboard_run)
    except RuleError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    second_factor = enrol(TotpSecretCipher(settings.staff_totp_key_values), account=args.login, issuer=TOTP_ISSUER)
    db = Database(settings.database_url)
    try:
        with db.transaction() as s:
            if staff_credentials(s, args.login) is not None:
                print(f"staff account {args.login} exists", file=sys.stderr)
                return 1
            add_staff(
                s,
                login_name=args.login,
                password_hash=PasswordService().hash(password),
                totp_secret_encrypted=second_factor.encrypted,
                name=args.name,
                agency=args.agency,
                roles=args.role,
                now=SystemClock().now(),
            )
    finally:
        db.dispose()
    print(f"hrss_isso: staff account {args.login} created with roles {' '.join(args.role)}")
    show_enrolment(second_factor)
    return 0


def enrol_staff_totp(argv: list[str]) -> int:
    from services.hrss_isso.models import Staff
    from shared.staff_totp import enrol_again

    parser = argparse.ArgumentParser(prog="python -m services.hrss_isso.manage enrol-staff-totp")
    parser.add_argument("--login", required=True)
    args = parser.parse_args(argv)
    settings = IssoSettings()
    return enrol_again(settings.database_url, model=Staff, login_name=args.login, settings=settings, issuer=TOTP_ISSUER)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "create-staff":
        sys.exit(create_staff(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "enrol-staff-totp":
        sys.exit(enrol_staff_totp(sys.argv[2:]))
    cli.main()
