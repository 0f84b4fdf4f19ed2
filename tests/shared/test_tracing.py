"""OpenTelemetry: server spans for FastAPI routes and the fast lane, SQL and
httpx client spans, ``traceparent`` on outgoing calls, the trace id in the
JSON log line; and nothing at all installed while tracing is off."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import MetaData, text

from shared import tracing
from shared.kvstore import define_kv_table
from shared.settings import ServiceSettings
from shared.web import logs
from shared.web.app import Runtime, build_app
from shared.web.logs import JsonFormatter


class _Upstream(BaseHTTPRequestHandler):
    """A real HTTP peer: httpx's instrumentation wraps the real transports, not mock ones."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    _Upstream.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _settings(tmp_path: Path, **extra: object) -> ServiceSettings:
    return ServiceSettings(
        database_url=f"sqlite:///{tmp_path / 'tracing.db'}",
        secret_key="test-secret-key-test-secret-key-0123456789",
        public_url="http://127.0.0.1:8009",
        **extra,
    )


def _build(settings: ServiceSettings, provider: TracerProvider | None, upstream_url: str = ""):
    runtime = Runtime.create(settings, namespace="tracing", kv_table=define_kv_table(MetaData()))
    runtime.tracer_provider = provider
    app = build_app(runtime=runtime, service_name="tracing", title="tracing", template_dirs=[], cookie_name="t_sid", brand="t")

    @app.get("/hop")
    async def hop() -> dict:
        with runtime.db.engine.connect() as conn:
            conn.execute(text("select 1"))
        async with httpx.AsyncClient() as client:
            await client.get(upstream_url + "/next")
        return {"ok": True}

    return app, runtime


@pytest.fixture
def traced(tmp_path: Path, upstream: str) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app, runtime = _build(_settings(tmp_path), provider, upstream)
    try:
        with TestClient(app) as client:
            yield client, exporter
    finally:
        tracing.uninstrument(app)
        runtime.db.dispose()


def _server_span(exporter: InMemorySpanExporter, name: str):
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER and s.name == name]
    assert len(spans) == 1, [(s.name, s.kind) for s in exporter.get_finished_spans()]
    return spans[0]


@pytest.mark.parametrize("path", ["/hop", "/healthz"], ids=["fastapi-route", "fast-lane"])
def test_a_request_produces_a_server_span(traced, path: str) -> None:
    client, exporter = traced
    assert client.get(path).status_code == 200
    span = _server_span(exporter, f"GET {path}")
    assert span.attributes.get("http.response.status_code", span.attributes.get("http.status_code")) == 200


def test_sql_and_outgoing_httpx_calls_are_children_and_carry_traceparent(traced, upstream: str) -> None:
    client, exporter = traced
    client.get("/hop")
    server = _server_span(exporter, "GET /hop")
    trace_id = server.context.trace_id
    children = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id and s.kind is SpanKind.CLIENT]
    http_span = next(s for s in children if s.name == "GET")
    assert any(s.attributes.get("db.system", s.attributes.get("db.system.name")) == "sqlite" for s in children)
    # W3C: version-traceid-parentid(the client span)-flags, with the "sampled" bit set
    version, sent_trace, parent, flags = _Upstream.seen[-1]["traceparent"].split("-")
    assert (version, sent_trace, parent) == ("00", f"{trace_id:032x}", f"{http_span.context.span_id:016x}")
    assert int(flags, 16) & 0x01


def test_the_json_log_line_carries_the_trace_id(traced) -> None:
    client, exporter = traced
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("tracing"))
    access = logging.getLogger("access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        client.get("/healthz")
        client.get("/hop")
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["trace_id"] for line in lines] == [
        f"{_server_span(exporter, 'GET /healthz').context.trace_id:032x}",
        f"{_server_span(exporter, 'GET /hop').context.trace_id:032x}",
    ]


def test_tracing_is_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    app, runtime = _build(_settings(tmp_path), None)
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
        assert app.state.tracer_provider is None
        assert app._traced_fast is None
        assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
        assert not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry
        assert "OpenTelemetryMiddleware" not in [m.cls.__name__ for m in app.user_middleware]
        assert logs.trace_id_source is None
        # No SDK provider anywhere: the API's default does nothing, with no span processor.
        assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    finally:
        runtime.db.dispose()


@pytest.mark.parametrize(
    ("setting", "environ", "endpoint"),
    [
        ("http://collector:4318", None, "http://collector:4318/v1/traces"),
        (None, "http://otel.example:4318", "http://otel.example:4318/v1/traces"),
    ],
    ids=["service-setting", "standard-variable"],
)
def test_an_otlp_endpoint_turns_tracing_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, environ: str | None, endpoint: str
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    if environ:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", environ)
    app, runtime = _build(_settings(tmp_path, otel_exporter_otlp_endpoint=setting), None)
    try:
        provider = app.state.tracer_provider
        assert isinstance(provider, TracerProvider)
        (processor,) = provider._active_span_processor._span_processors
        assert processor.span_exporter._endpoint == endpoint
        assert provider.resource.attributes["service.name"] == "tracing"
        assert app._traced_fast is not None and HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    finally:
        tracing.uninstrument(app)
        provider.shutdown()
        runtime.db.dispose()
