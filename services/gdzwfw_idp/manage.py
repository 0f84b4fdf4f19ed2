"""Operator commands for gdzwfw_idp (settings from ``GDZWFW_*`` variables).

    python -m services.gdzwfw_idp.manage migrate
    python -m services.gdzwfw_idp.manage rotate-keys
    python -m services.gdzwfw_idp.manage serve [--host H] [--port P] [--workers N]
    python -m services.gdzwfw_idp.manage reencrypt-staff-totp

``reencrypt-staff-totp`` encrypts every staff TOTP secret again under the
first of ``GDZWFW_STAFF_TOTP_KEYS``: run it after putting a new key first,
then the old keys can be dropped. It exits with 1, naming the staff, when a
secret is readable under none of the keys (it is left as it was).
"""

from __future__ import annotations

import sys

from services.gdzwfw_idp.settings import IdpSettings
from shared.cli import ServiceCli

cli = ServiceCli(
    name="gdzwfw_idp",
    settings_cls=IdpSettings,
    default_port=8001,
    provider_tables="services.gdzwfw_idp.models:provider_tables",
)
app_factory = cli.app_factory


def reencrypt_staff_totp(argv: list[str]) -> int:
    from services.gdzwfw_idp.models import StaffAccount
    from shared.staff_totp import reencrypt_command

    settings = IdpSettings()
    return reencrypt_command(argv, service="gdzwfw_idp", settings=settings, database_url=settings.database_url, model=StaffAccount)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "reencrypt-staff-totp":
        sys.exit(reencrypt_staff_totp(sys.argv[2:]))
    cli.main()
