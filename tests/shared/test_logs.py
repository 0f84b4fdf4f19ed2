"""An unhandled error is logged with its request id and its traceback, in
text and in JSON lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData

from shared.kvstore import define_kv_table
from shared.settings import ServiceSettings
from shared.web.app import Runtime, build_app
from shared.web.logs import JsonFormatter, TextFormatter


@pytest.fixture
def failing_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ServiceSettings(
        database_url=f"sqlite:///{tmp_path / 'logs.db'}",
        secret_key="test-secret-key-test-secret-key-0123456789",
        public_url="http://127.0.0.1:8009",
        log_json=False,
        # The test client's peer, so that its X-Request-ID is believed as a load balancer's would be.
        trusted_proxies="testclient",
    )
    runtime = Runtime.create(settings, namespace="logs", kv_table=define_kv_table(MetaData()))
    app = build_app(runtime=runtime, service_name="logs", title="logs", template_dirs=[], cookie_name="logs_sid", brand="logs")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    yield TestClient(app, raise_server_exceptions=False)
    runtime.db.dispose()


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter("logs")], ids=["text", "json"])
def test_an_unhandled_error_is_logged_with_request_id_and_traceback(failing_client: TestClient, formatter: logging.Formatter) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    web = logging.getLogger("web")
    web.addHandler(handler)
    try:
        response = failing_client.get("/boom", headers={"X-Request-ID": "rid-boom-1"})
    finally:
        web.removeHandler(handler)
    assert response.status_code == 500 and "kaboom" not in response.text
    logged = out.getvalue()
    if isinstance(formatter, JsonFormatter):
        entry = json.loads(logged.splitlines()[0])
        assert entry["request_id"] == "rid-boom-1" and entry["msg"] == "unhandled error"
        logged = entry["exc"]
    else:
        assert logged.startswith("ERROR [rid-boom-1] web: unhandled error")
    assert "Traceback (most recent call last)" in logged and "RuntimeError: kaboom" in logged
