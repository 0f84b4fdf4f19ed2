"""OpenTelemetry traces, off unless an OTLP endpoint is configured.

On: one server span per request (FastAPI's instrumentation, and the ASGI one
for the fast lane, which FastAPI's middleware never sees), a span per SQL
statement, a client span per httpx call, which also sends the W3C
``traceparent`` header, so a login's spans across refund_portal → hrss_isso →
gdzwfw_idp form one trace. The JSON log lines carry the ``trace_id``.

Off (the default): nothing is imported, wrapped or installed; the request
path is the same as without this module.

The endpoint is ``<PREFIX>_OTEL_EXPORTER_OTLP_ENDPOINT`` (OTLP over HTTP, the
collector's base URL, e.g. http://otel-collector:4318), or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, which
the exporter reads itself together with the other ``OTEL_EXPORTER_OTLP_*``
variables (headers, timeout).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from shared.web import logs

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.engine import Engine

    from shared.web.fastlane import ServiceApp

__all__ = ["tracing_configured", "make_tracer_provider", "instrument", "uninstrument"]

_STANDARD_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Per-chunk spans of the request and response bodies: noise, for every request.
_NO_BODY_SPANS = ["receive", "send"]


def tracing_configured(endpoint: str | None) -> bool:
    return bool(endpoint) or any(os.environ.get(name) for name in _STANDARD_ENDPOINTS)


def make_tracer_provider(service_name: str, endpoint: str | None) -> TracerProvider:
    """A provider exporting in batches (off the request path) to the OTLP endpoint."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The exporter appends /v1/traces to the standard base variable itself, not to an argument.
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces") if endpoint else OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument(app: ServiceApp, engine: Engine, provider: TracerProvider) -> None:
    """Trace ``app``'s requests, ``engine``'s statements and every httpx client."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=_NO_BODY_SPANS)
    app.trace_fast_lane(provider, exclude_spans=_NO_BODY_SPANS)
    # Both patch the libraries process-wide, once (a second call is a no-op):
    # one service, so one provider, per process in production.
    # skip_dep_check: the instrumentation declares sqlalchemy < 2.1 but uses
    # only the engine's before/after_cursor_execute events, unchanged in 2.1.
    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=provider, skip_dep_check=True)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)

    def current_trace_id() -> str | None:
        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    logs.trace_id_source = current_trace_id


def uninstrument(app: Any) -> None:
    """Undo :func:`instrument` (tests build many apps in one process)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.uninstrument_app(app)
    app.trace_fast_lane(None)
    SQLAlchemyInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    logs.trace_id_source = None
