"""Replicas starting together on an empty database (DESIGN.md: "any number
of replicas and workers may start at once"): migrations and start-up writes
take a PostgreSQL advisory lock, so every replica comes up."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from devtools.stack import ROOT, SERVICES, database_urls, drop_databases
from services.gdzwfw_idp.app import create_app as create_idp
from services.gdzwfw_idp.demo import DEMO_ACCOUNTS, DEMO_CLIENTS
from services.gdzwfw_idp.models import provider_tables
from services.gdzwfw_idp.settings import IdpSettings
from shared.clock import FrozenClock
from shared.db import startup_lock
from shared.migrations import upgrade_head
from shared.passwords import PasswordService

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
needs_postgresql = pytest.mark.skipif(not TEST_DATABASE_URL, reason="advisory locks: needs TEST_DATABASE_URL (PostgreSQL)")


def _migrate_at(start: float, script_location: Path, url: str) -> str:
    """In a child process: imports done, wait for the common start, migrate."""
    time.sleep(max(0.0, start - time.time()))
    upgrade_head(script_location, url)
    return "ok"


@pytest.fixture
def empty_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Brand-new databases (no alembic_version yet), dropped afterwards."""
    urls = database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp_path, suffix=f"_fresh{os.getpid()}")
    yield urls
    drop_databases(urls)


@needs_postgresql
def test_six_processes_migrate_one_empty_database_at_once(empty_databases: dict[str, str]) -> None:
    url, script = empty_databases["gdzwfw_idp"], ROOT / "services" / "gdzwfw_idp" / "migrations"
    workers = 6
    # Separate processes, as replicas are (Alembic's context is process-global).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        start = time.time() + 4.0  # after every child has imported Alembic and the service
        results = [f.result(timeout=120) for f in [pool.submit(_migrate_at, start, script, url) for _ in range(workers)]]
    assert results == ["ok"] * workers
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_lock_is_a_no_op_on_sqlite_and_migrations_still_run(tmp_path: Path) -> None:
    urls = database_urls(base_url=None, var_dir=tmp_path)
    with startup_lock(urls["refund_portal"], "start-up writes"):
        pass
    for name in SERVICES:
        upgrade_head(ROOT / "services" / name / "migrations", urls[name])
        upgrade_head(ROOT / "services" / name / "migrations", urls[name])  # again: nothing to do


@needs_postgresql
def test_the_lock_is_exclusive_and_released(empty_databases: dict[str, str]) -> None:
    url = empty_databases["refund_portal"]
    inside: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with startup_lock(url, "start-up writes"):
            inside.append("second")

    with startup_lock(url, "start-up writes"):
        inside.append("first")
        waiter = threading.Thread(target=second)
        waiter.start()
        entered.wait(0.5)
        assert inside == ["first"]  # the second holder waits for the first
        with startup_lock(url, "another step"):  # another name is another lock
            inside.append("other")
    waiter.join(10)
    assert inside == ["first", "other", "second"]


@pytest.mark.parametrize("instances", [4])
def test_instances_starting_together_on_an_empty_database_all_come_up(fresh_database: Callable[[str], str], instances: int) -> None:
    """Each instance's start-up writes the signing key, the configured
    clients and the demo data; started together, every one must succeed and
    the rows exist once."""
    url = fresh_database("gdzwfw_idp")
    settings = IdpSettings(
        environment="development",
        database_url=url,
        secret_key="test-secret-key-test-secret-key-0123456789",
        public_url="http://127.0.0.1:8001",
        cookie_secure=False,
        log_json=False,
    )
    clients = [
        TestClient(create_idp(settings, clock=FrozenClock(), passwords=PasswordService(time_cost=1, memory_cost=1024)))
        for _ in range(instances)
    ]
    gate, started = threading.Barrier(instances), []

    def start(client: TestClient) -> int:
        gate.wait()
        client.__enter__()
        started.append(client)
        return client.get("/healthz").status_code

    try:
        with ThreadPoolExecutor(instances) as pool:
            assert list(pool.map(start, clients, timeout=120)) == [200] * instances
    finally:
        for client in started:
            client.__exit__(None, None, None)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(provider_tables.signing_key)).scalar_one() == 1
            assert conn.execute(select(func.count()).select_from(provider_tables.client)).scalar_one() == len(DEMO_CLIENTS)
            assert conn.execute(text("SELECT count(*) FROM account")).scalar_one() >= len(DEMO_ACCOUNTS)
    finally:
        engine.dispose()
