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


def _access_lines(client: TestClient, calls: list[tuple[str, str, dict]]) -> list[dict]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("logs"))
    access = logging.getLogger("access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        for method, url, headers in calls:
            client.request(method, url, headers=headers)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_request_gives_one_access_line_without_its_query_string(failing_client: TestClient) -> None:
    app = failing_client.app

    async def fast(_request):
        from shared.web.fastlane import json_response

        return json_response({"ok": True})

    app.add_fast_route("/fast", fast, methods=["GET"])
    lines = _access_lines(
        failing_client,
        [
            ("GET", "/fast?code=secret-code", {"X-Request-ID": "rid-fast-1"}),
            ("GET", "/healthz?state=secret-state", {"X-Request-ID": "rid-page-1"}),
            ("POST", "/fast", {"X-Request-ID": "rid-fast-2"}),
        ],
    )
    assert [(line["request_id"], line["method"], line["path"], line["status"]) for line in lines] == [
        ("rid-fast-1", "GET", "/fast", 200),
        ("rid-page-1", "GET", "/healthz", 200),
        ("rid-fast-2", "POST", "/fast", 405),
    ]
    for line in lines:
        assert line["level"] == "INFO" and line["logger"] == "access" and line["service"] == "logs" and line["msg"] == "request"
        assert isinstance(line["ms"], float) and line["ms"] >= 0
    assert "secret" not in json.dumps(lines)


def test_the_access_line_follows_the_access_loggers_level(failing_client: TestClient) -> None:
    access = logging.getLogger("access")
    level = access.level
    access.setLevel(logging.WARNING)
    try:
        out = io.StringIO()
        handler = logging.StreamHandler(out)
        access.addHandler(handler)
        try:
            failing_client.get("/healthz")
        finally:
            access.removeHandler(handler)
    finally:
        access.setLevel(level)
    assert out.getvalue() == ""
