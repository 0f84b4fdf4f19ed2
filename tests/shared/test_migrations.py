"""Each service's migrations build the schema its models describe: a change
to the tables without a migration (or the reverse) fails here, on SQLite and
on PostgreSQL, before it fails in a deployment."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from devtools.stack import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_the_migrated_schema_is_the_models_schema(service: str, service_databases: dict[str, str]) -> None:
    metadata = importlib.import_module(f"services.{service}.models").metadata
    engine = create_engine(service_databases[service])
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", ["gdzwfw_idp", "hrss_isso"])
def test_token_indexes_leave_out_tokens_without_a_refresh_token_code_or_session(service: str, service_databases: dict[str, str]) -> None:
    engine = create_engine(service_databases[service])
    try:
        with engine.connect() as conn:
            indexes = {index["name"]: index for index in inspect(conn).get_indexes("oauth_token")}
            dialect = conn.dialect.name
    finally:
        engine.dispose()
    for column in ("refresh_token_hash", "authorization_code_id", "sid"):
        index = next(i for i in indexes.values() if i["column_names"] == [column])
        where = index.get("dialect_options", {}).get(f"{dialect}_where")
        assert where is not None and "IS NOT NULL" in str(where).upper(), (column, index)
    assert next(i for i in indexes.values() if i["column_names"] == ["refresh_token_hash"])["unique"]
