"""A replica whose Redis goes away and comes back (issue 16): ``/readyz``
answers 503 while Redis is down, so the load balancer stops sending it
users, and 200 once Redis is back, with no restart; a page asked for in
between fails at once with the service's Chinese error page.

Redis here is a ``redis-server`` of the test's own on a spare port, which
the test stops and starts (never the shared one of ``TEST_REDIS_URL``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.stack import SERVICES, Stack, StackConfig, database_urls, drop_databases, free_port
from tests.conftest import TEST_DATABASE_URL

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cluster,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (Debian package redis-server)"),
]


class RedisServer:
    """``redis-server`` on ``port``, in memory only (no dump, no append-only file)."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes"]
            + ["--dir", str(self.directory), "--pidfile", str(self.directory / "redis.pid")],
            check=True,
            capture_output=True,
        )
        self._wait(up=True)

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        self._wait(up=False)

    def _wait(self, *, up: bool) -> None:
        deadline = time.monotonic() + 10
        while (subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() == b"PONG") != up:
            assert time.monotonic() < deadline, f"redis-server on {self.port} did not {'start' if up else 'stop'}"
            time.sleep(0.05)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def replica(tmp_path: Path, redis_server: RedisServer) -> Iterator[str]:
    """One gdzwfw_idp replica keeping its sessions in that Redis."""
    config = StackConfig(
        database_urls=database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp_path, suffix=f"_redisdown{os.getpid()}"),
        ports={name: free_port() for name in SERVICES},
        work_dir=tmp_path,
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
    )
    stack = Stack(config, log_dir=tmp_path)
    stack.migrate(("gdzwfw_idp",))
    try:
        stack.start(("gdzwfw_idp",), timeout=120)  # a loaded machine
        yield config.url("gdzwfw_idp")
    finally:
        stack.stop()
        drop_databases(config.database_urls)


def _readiness(url: str) -> tuple[int, dict]:
    response = httpx.get(f"{url}/readyz", timeout=10)
    return response.status_code, response.json()


def test_readiness_follows_redis_down_and_back(replica: str, redis_server: RedisServer) -> None:
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        assert browser.get(f"{replica}/login").status_code == 200  # a session begins, in Redis
        assert _readiness(replica) == (200, {"status": "ok", "service": "gdzwfw_idp", "checks": {"database": "ok", "redis": "ok"}})

        redis_server.stop()
        started = time.monotonic()
        status, body = _readiness(replica)
        assert (status, body["checks"]) == (503, {"database": "ok", "redis": "unavailable"})
        assert time.monotonic() - started < 2.5  # within *_READINESS_TIMEOUT (2 s)
        started = time.monotonic()
        page = browser.get(f"{replica}/login")
        assert time.monotonic() - started < 2.5
        assert page.status_code == 503 and "系统暂时无法处理您的请求，请稍后再试" in page.text

        redis_server.start()
        deadline = time.monotonic() + 10
        while _readiness(replica)[0] != 200:
            assert time.monotonic() < deadline, "not ready again after Redis came back"
            time.sleep(0.2)
        assert browser.get(f"{replica}/login").status_code == 200
