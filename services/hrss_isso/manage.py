"""Operator commands for hrss_isso (settings from ``ISSO_*`` variables).

    python -m services.hrss_isso.manage migrate
    python -m services.hrss_isso.manage rotate-keys
    python -m services.hrss_isso.manage serve [--host H] [--port P] [--workers N]
"""

from services.hrss_isso.settings import IssoSettings
from shared.cli import ServiceCli

cli = ServiceCli(
    name="hrss_isso",
    settings_cls=IssoSettings,
    default_port=8002,
    provider_tables="services.hrss_isso.models:provider_tables",
)
app_factory = cli.app_factory

if __name__ == "__main__":
    cli.main()
