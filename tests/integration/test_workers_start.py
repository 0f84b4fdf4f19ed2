"""``manage serve --workers 2`` in production on a freshly migrated, empty
database: both workers write the signing key and clients at start-up, one
after the other (the start-up lock), and both come up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.stack import ROOT, database_urls, drop_databases, free_port
from shared.migrations import upgrade_head
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.integration


@pytest.fixture
def idp_database(tmp_path: Path) -> Iterator[str]:
    urls = database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp_path, suffix=f"_workers{os.getpid()}")
    upgrade_head(ROOT / "services" / "gdzwfw_idp" / "migrations", urls["gdzwfw_idp"])
    yield urls["gdzwfw_idp"]
    drop_databases(urls)


def test_two_production_workers_start_on_an_empty_database(idp_database: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GDZWFW_ENVIRONMENT": "production",
        "GDZWFW_DATABASE_URL": idp_database,
        "GDZWFW_SECRET_KEY": "workers-test-secret-key-0123456789abcdef",
        "GDZWFW_STAFF_TOTP_KEYS": "workers-test-totp-key-0123456789abcdefgh",
        "GDZWFW_PUBLIC_URL": "https://idp.example",
        "GDZWFW_LOG_JSON": "false",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "services.gdzwfw_idp.manage", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2 and "startup failed" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    text = log.read_text()
    assert "Traceback" not in text and "startup failed" not in text, text[-3000:]
    assert text.count("Application startup complete") == 2
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
