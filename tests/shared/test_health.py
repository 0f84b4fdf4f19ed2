"""``/healthz`` is liveness without I/O; ``/readyz`` reports the database and
Redis as JSON, 503 when either cannot be reached, within its timeout."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import MetaData

from devtools.stack import free_port
from shared.kvstore import define_kv_table
from shared.settings import ServiceSettings
from shared.web.app import Runtime, build_app

CLOSED_PORT_PG = "postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"


def _app(database_url: str, **settings: object) -> FastAPI:
    values = {"secret_key": "test-secret-key-test-secret-key-0123456789", "public_url": "http://127.0.0.1:8009", "log_json": False}
    runtime = Runtime.create(
        ServiceSettings(database_url=database_url, **{**values, **settings}), namespace="health", kv_table=define_kv_table(MetaData())
    )
    return build_app(runtime=runtime, service_name="probe", title="probe", template_dirs=[], cookie_name="probe_sid", brand="probe")


@pytest.fixture
def client() -> Iterator[Callable[..., TestClient]]:
    """A client that never runs the app's start-up (it would need the database)."""
    apps: list[FastAPI] = []

    def make(database_url: str, **settings: object) -> TestClient:
        apps.append(_app(database_url, **settings))
        return TestClient(apps[-1], raise_server_exceptions=False)

    yield make
    for app in apps:
        app.state.db.dispose()


def _unavailable(response, **checks: str) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "unavailable", "service": "probe", "checks": checks}


def test_liveness_does_no_io(client: Callable[..., TestClient]) -> None:
    response = client(CLOSED_PORT_PG.format(port=free_port())).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "probe"}


def test_ready_when_the_database_answers(client: Callable[..., TestClient], fresh_database: Callable[[str], str]) -> None:
    response = client(fresh_database("refund_portal")).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "probe", "checks": {"database": "ok"}}
    assert "set-cookie" not in response.headers  # probes open no session


def test_not_ready_when_postgresql_refuses_connections(client: Callable[..., TestClient]) -> None:
    # HTML asked for: a probe's answer is JSON all the same, never the error page.
    _unavailable(client(CLOSED_PORT_PG.format(port=free_port())).get("/readyz", headers={"Accept": "text/html"}), database="unavailable")


def test_not_ready_when_the_sqlite_file_cannot_be_opened(client: Callable[..., TestClient], tmp_path: Path) -> None:
    _unavailable(client(f"sqlite:///{tmp_path}").get("/readyz"), database="unavailable")  # a directory, not a database file


def test_not_ready_when_redis_is_unreachable(client: Callable[..., TestClient], fresh_database: Callable[[str], str]) -> None:
    probe = client(fresh_database("refund_portal"), redis_url=f"redis://127.0.0.1:{free_port()}/0")
    _unavailable(probe.get("/readyz"), database="ok", redis="unavailable")


def test_a_database_that_never_answers_is_not_ready_within_the_timeout(client: Callable[..., TestClient]) -> None:
    with socket.socket() as silent:  # accepts the TCP connection, never speaks PostgreSQL
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        probe = client(CLOSED_PORT_PG.format(port=silent.getsockname()[1]), readiness_timeout=0.5)
        started = time.monotonic()
        response = probe.get("/readyz")
        assert time.monotonic() - started < 3
    _unavailable(response, database="unavailable")


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_ready_with_redis(client: Callable[..., TestClient], fresh_database: Callable[[str], str]) -> None:
    response = client(fresh_database("refund_portal"), redis_url=os.environ["TEST_REDIS_URL"]).get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.fixture
def blackholed_redis() -> Iterator[str]:
    """A Redis URL whose server accepts TCP connections and never answers
    (a hung server, or a network that drops the replies)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        yield f"redis://127.0.0.1:{silent.getsockname()[1]}/0"


def test_a_redis_that_never_answers_is_not_ready_within_the_timeout(
    client: Callable[..., TestClient], fresh_database: Callable[[str], str], blackholed_redis: str
) -> None:
    probe = client(fresh_database("refund_portal"), redis_url=blackholed_redis, readiness_timeout=1.0)
    started = time.monotonic()
    response = probe.get("/readyz")
    assert time.monotonic() - started < 1.5
    _unavailable(response, database="ok", redis="unavailable")


def test_a_page_fails_fast_with_the_error_page_when_redis_never_answers(
    client: Callable[..., TestClient], fresh_database: Callable[[str], str], blackholed_redis: str
) -> None:
    # A returning user: the session middleware reads the session from Redis.
    # Without socket timeouts redis-py waits 5 s per call (and the request thread with it).
    probe = client(fresh_database("refund_portal"), redis_url=blackholed_redis)
    probe.cookies.set("probe_sid", "a-session-id")
    started = time.monotonic()
    page = probe.get("/", headers={"Accept": "text/html"})
    assert time.monotonic() - started < 2
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "服务暂时不可用" in page.text and "系统暂时无法处理您的请求，请稍后再试" in page.text and "请求编号" in page.text
    assert "Traceback" not in page.text and "TimeoutError" not in page.text
