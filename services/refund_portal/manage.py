"""Operator commands for refund_portal (settings from ``REFUND_*`` variables).

python -m services.refund_portal.manage migrate
python -m services.refund_portal.manage reencrypt-staff-totp
python -m services.refund_portal.manage serve [--host H] [--port P] [--workers N]
"""

from services.refund_portal.settings import RefundSettings
from shared.cli import ServiceCli

cli = ServiceCli(
    name="refund_portal",
    settings_cls=RefundSettings,
    default_port=8003,
    staff_totp_model="services.refund_portal.models:StaffAccount",
)
app_factory = cli.app_factory

if __name__ == "__main__":
    cli.main()
