"""Operator commands for gdzwfw_idp.

    python -m services.gdzwfw_idp.manage migrate
    python -m services.gdzwfw_idp.manage rotate-keys
    python -m services.gdzwfw_idp.manage serve [--host H] [--port P] [--workers N]

Settings come from ``GDZWFW_*`` environment variables.
"""

from __future__ import annotations

from pathlib import Path

from services.gdzwfw_idp.settings import IdpSettings
from shared.cli import ServiceCli

MIGRATIONS = Path(__file__).parent / "migrations"


def _app_factory():
    from services.gdzwfw_idp.app import create_app
    from shared.web.logs import configure_logging

    settings = IdpSettings()
    configure_logging("gdzwfw_idp", level=settings.log_level, json_lines=settings.log_json)
    return create_app(settings)


def _key_manager(settings: IdpSettings):
    from services.gdzwfw_idp.models import provider_tables
    from shared.clock import SystemClock
    from shared.oauth.provider.keys import KeyManager

    return KeyManager(tables=provider_tables, clock=SystemClock(), secret_key=settings.secret_key.get_secret_value(), publish_grace=settings.id_token_ttl + 300)


cli = ServiceCli(
    name="gdzwfw_idp",
    settings_cls=IdpSettings,
    migrations=MIGRATIONS,
    app_factory="services.gdzwfw_idp.manage:_app_factory",
    key_manager=_key_manager,
    default_port=8001,
)

if __name__ == "__main__":
    cli.main()
