"""Fixtures shared by the whole suite.

Databases: SQLite files by default; PostgreSQL when ``TEST_DATABASE_URL`` is
set (``.ci/run`` does both). Each service's database is created and migrated
once per session (Alembic ``upgrade head``) and emptied before each test.

Redis: when ``TEST_REDIS_URL`` is set (``redis://127.0.0.1:6379/0``), the
services the tests build keep their key-value state there instead of the
database, under a key prefix of this run's own (tests/redis_run.py; each
started stack under another), so runs sharing one Redis never meet. The
unit prefix is emptied before each test, as the database is, and the run's
keys are deleted at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete

from devtools.stack import ROOT, SERVICES, database_urls, drop_databases
from shared.clock import Clock
from shared.db import Database, new_metadata
from shared.kvstore import SqlKeyValueStore, define_kv_table
from shared.migrations import upgrade_head
from tests.redis_run import REDIS_KEY_PREFIX, REDIS_RUN, TEST_REDIS_URL, service_prefix

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None


def _delete_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True, scope="session")
def _redis_run() -> Iterator[None]:
    yield
    if TEST_REDIS_URL:
        _delete_redis_keys(REDIS_RUN)  # the unit prefix and every stack's


@pytest.fixture(autouse=True)
def _empty_redis(_redis_run: None) -> None:
    if TEST_REDIS_URL:
        _delete_redis_keys(REDIS_KEY_PREFIX)


@pytest.fixture(scope="session")
def service_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per service for the unit tests."""
    urls = database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp_path_factory.mktemp("db"), suffix=f"_unit{os.getpid()}")
    for name in SERVICES:
        upgrade_head(ROOT / "services" / name / "migrations", urls[name])
    yield urls
    drop_databases(urls)


def _metadata(name: str):
    import importlib

    return importlib.import_module(f"services.{name}.models").metadata


@pytest.fixture
def fresh_database(service_databases: dict[str, str]) -> Callable[[str], str]:
    """Empty a service's tables (children first) and return its URL."""

    def clean(name: str) -> str:
        url = service_databases[name]
        engine = create_engine(url)
        with engine.begin() as conn:
            for table in reversed(_metadata(name).sorted_tables):
                conn.execute(delete(table))
        engine.dispose()
        if TEST_REDIS_URL:  # the key-value state, where it lives in the Redis run
            _delete_redis_keys(service_prefix(name))
        return url

    return clean


@pytest.fixture
def sqlite_kv(tmp_path: Path) -> Iterator[Callable[[Clock], SqlKeyValueStore]]:
    """A key-value store of its own on a temporary SQLite file, for library tests."""
    databases: list[Database] = []

    def make(clock: Clock) -> SqlKeyValueStore:
        metadata = new_metadata()
        table = define_kv_table(metadata)
        databases.append(Database(f"sqlite:///{tmp_path / f'kv{len(databases)}.db'}"))
        metadata.create_all(databases[-1].engine)
        return SqlKeyValueStore(databases[-1], table, clock)

    yield make
    for db in databases:
        db.dispose()


@pytest.fixture
def artifacts_dir() -> Iterator[Path]:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    yield path
