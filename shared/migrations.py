"""Alembic, driven from code: each service has its own history and metadata."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from shared.db import startup_lock

__all__ = ["alembic_config", "upgrade_head", "run_env"]


def alembic_config(script_location: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_head(script_location: Path, database_url: str) -> None:
    """Migrate to head, one process at a time: without the lock, replicas
    starting together on an empty PostgreSQL database all try to create
    ``alembic_version`` and all but one die (UniqueViolation on pg_type)."""
    with startup_lock(database_url, "alembic upgrade"):
        command.upgrade(alembic_config(script_location, database_url), "head")


def run_env(context, metadata: MetaData) -> None:  # pragma: no cover - called by alembic
    """The body every service's ``migrations/env.py`` shares."""
    from shared.db import make_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _configure(context, connection, metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _configure(context, connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
