"""Operator commands for gdzwfw_idp (settings from ``GDZWFW_*`` variables).

    python -m services.gdzwfw_idp.manage migrate
    python -m services.gdzwfw_idp.manage rotate-keys
    python -m services.gdzwfw_idp.manage serve [--host H] [--port P] [--workers N]
"""

from services.gdzwfw_idp.settings import IdpSettings
from shared.cli import ServiceCli

cli = ServiceCli(
    name="gdzwfw_idp",
    settings_cls=IdpSettings,
    default_port=8001,
    provider_tables="services.gdzwfw_idp.models:provider_tables",
)
app_factory = cli.app_factory

if __name__ == "__main__":
    cli.main()
