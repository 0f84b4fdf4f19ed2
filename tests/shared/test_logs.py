"""An unhandled error is logged with its request id and its traceback, in
text and in JSON lines; access lines are one per request, written a moment
later together, never after a line that followed them."""

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


@pytest.fixture
def configured_root() -> Iterator[None]:
    """The root logger as a service configures it, restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    access_level = logging.getLogger("access").level
    try:
        yield
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved[2:]
        logging.getLogger("access").setLevel(access_level)


def _service_logging(out: io.StringIO, *, json_lines: bool = True, max_delay: float = 60.0, max_chars: int = 64 * 1024):
    from shared.web.logs import AccessBatchingHandler, configure_logging

    configure_logging("logs", json_lines=json_lines)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, AccessBatchingHandler)
    handler.setStream(out)
    handler.max_delay, handler.max_chars = max_delay, max_chars
    return handler


def test_access_lines_are_written_together_and_a_warning_is_never_held_back(configured_root) -> None:
    """The access lines of a moment are one write; any other line is
    written at once, after the access lines before it (the log's order)."""
    import time

    from shared.web.logs import access_log

    out = io.StringIO()
    _service_logging(out)
    for path in ("/token", "/introspect"):
        access_log("POST", path, 200, time.perf_counter())
    assert out.getvalue() == ""  # held, for a moment
    logging.getLogger("provider").warning("signing key missing")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["logger"], line.get("path") or line["msg"]) for line in lines] == [
        ("access", "/token"),
        ("access", "/introspect"),
        ("provider", "signing key missing"),
    ]
    assert all(line["service"] == "logs" and line["level"] in ("INFO", "WARNING") for line in lines)


def test_held_access_lines_are_written_after_a_short_delay_when_full_and_at_exit(configured_root) -> None:
    import time

    from shared.web.logs import access_log

    out = io.StringIO()
    handler = _service_logging(out, max_delay=0.05)
    access_log("GET", "/a", 200, time.perf_counter())
    deadline = time.monotonic() + 5
    while "/a" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "/a" in out.getvalue()
    # Full: written at once.
    handler.max_delay, handler.max_chars = 60.0, 1
    access_log("GET", "/b", 200, time.perf_counter())
    assert "/b" in out.getvalue()
    # At exit, logging's shutdown flushes every handler.
    handler.max_chars = 64 * 1024
    access_log("GET", "/c", 200, time.perf_counter())
    assert "/c" not in out.getvalue()
    handler.flush()
    assert [json.loads(line)["path"] for line in out.getvalue().splitlines()] == ["/a", "/b", "/c"]


@pytest.mark.parametrize("json_lines", [True, False])
def test_an_access_line_reads_the_same_with_or_without_a_handler_of_its_own(configured_root, json_lines: bool) -> None:
    """Straight to the service's handler, or through logging when a handler
    or filter was added to the access logger: the same line either way."""
    import time

    from shared.web.logs import access_log, request_id_var

    out = io.StringIO()
    _service_logging(out, json_lines=json_lines, max_chars=1)
    token = request_id_var.set("rid-same-1")
    try:
        access_log("POST", "/token", 201, time.perf_counter() - 0.002)
        direct = out.getvalue()
        out.seek(0), out.truncate()
        access = logging.getLogger("access")
        access.addFilter(lambda record: True)
        try:
            access_log("POST", "/token", 201, time.perf_counter() - 0.002)
        finally:
            access.filters.clear()
        through_logging = out.getvalue()
    finally:
        request_id_var.reset(token)
    if json_lines:
        first, second = json.loads(direct), json.loads(through_logging)
        for line in (first, second):
            del line["ts"], line["ms"]
        assert (
            first
            == second
            == {
                "level": "INFO",
                "service": "logs",
                "logger": "access",
                "request_id": "rid-same-1",
                "msg": "request",
                "method": "POST",
                "path": "/token",
                "status": 201,
            }
        )
    else:
        strip_ms = lambda text: text.rsplit(" ms=", 1)[0]  # noqa: E731
        assert strip_ms(direct) == strip_ms(through_logging) == "INFO  [rid-same-1] access: request method=POST path=/token status=201"


def test_a_forked_process_starts_with_no_access_lines_held(configured_root) -> None:
    """The parent writes the lines it held; a forked child must not write them again."""
    import os
    import time

    from shared.web.logs import access_log

    out = io.StringIO()
    handler = _service_logging(out)
    access_log("GET", "/held", 200, time.perf_counter())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, b"%d" % len(handler._pending))
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    handler.flush()
    assert '"/held"' in out.getvalue()
