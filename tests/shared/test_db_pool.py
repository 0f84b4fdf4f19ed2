"""PostgreSQL pool: a connection is pinged only after an idle spell, and one
that died meanwhile is replaced before any request sees it."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from sqlalchemy import text

import shared.db
from shared.db import Database

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")


def _pid(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(fresh_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(fresh_database("gdzwfw_idp"), pool_size=1)
    pings: list[object] = []
    ping = db.engine.dialect.do_ping
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))
    try:
        first = _pid(db)
        for _ in range(5):
            assert _pid(db) == first
        assert pings == []
    finally:
        db.dispose()


def test_an_idle_connection_that_died_is_replaced_unnoticed(fresh_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.db, "PING_AFTER_IDLE", 0.0)  # every check-out counts as after an idle spell
    url = fresh_database("gdzwfw_idp")
    db, admin = Database(url, pool_size=1), Database(url, pool_size=1)
    try:
        dead = _pid(db)
        with admin.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        # The pooled connection is gone; the ping finds out and a new one serves.
        assert _pid(db) != dead
    finally:
        db.dispose()
        admin.dispose()
