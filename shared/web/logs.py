"""Structured logs with a request id on every line.

The id comes from ``X-Request-ID`` when the peer is a trusted proxy (the load
balancer sets one), otherwise it is generated: a client's own header is never
believed, or anyone could make their lines look like someone else's. It and it is echoed back so a user can quote it to support. Paths
are logged without query strings: those carry codes and states.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import observe_request

__all__ = ["configure_logging", "RequestIdMiddleware", "request_id_var", "get_logger", "incoming_request_id", "access_log", "TRUSTED_PEER"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Set by shared.tracing while tracing is on: the current trace id (or None
# outside a span), for the JSON lines. None when off: nothing is looked up.
trace_id_source: Callable[[], str | None] | None = None


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "request_id": request_id_var.get(),
            "msg": record.getMessage(),
        }
        if trace_id_source is not None and (trace_id := trace_id_source()):
            entry["trace_id"] = trace_id
        extra = getattr(record, "fields", None)
        if extra:
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # orjson: a JSON line per request, several times cheaper than json.dumps.
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {}
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        base = f"{record.levelname:5} [{request_id_var.get()}] {record.name}: {record.getMessage()}"
        line = f"{base} {tail}".rstrip()
        # The traceback follows on its own lines, as logging.Formatter does.
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would duplicate ours and log query strings.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


_access = logging.getLogger("access")


# Set in the scope by ServiceApp (shared.web.fastlane) when the connection comes
# from one of *_TRUSTED_PROXIES; checked before uvicorn's proxy middleware
# replaces the peer with the X-Forwarded-For client.
TRUSTED_PEER = "gd.trusted_peer"


def incoming_request_id(scope: Scope) -> str:
    """A trusted proxy's ``X-Request-ID`` when it is well-formed, else a new one."""
    if scope.get(TRUSTED_PEER):
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        if _REQUEST_ID_OK.match(incoming):
            return incoming
    return secrets.token_hex(8)


def access_log(method: str, path: str, status: int, started: float, *, route: str | None = None) -> None:
    """One line per request: method, path (never the query: it carries codes), status, ms;
    and the request's metrics, by ``route`` (the template; the fast lane's paths are exact)."""
    seconds = time.perf_counter() - started
    observe_request(route or path, method, status, seconds)
    if _access.isEnabledFor(logging.INFO):
        # The record is made here and handed to the logger's handlers, as
        # Logger.info would after looking for its caller's file and line,
        # which no formatter of ours prints: that search and makeRecord's
        # checks were two thirds of the line's cost on a token grant.
        record = logging.LogRecord(_access.name, logging.INFO, __file__, 0, "request", None, None)
        record.fields = {"method": method, "path": path, "status": status, "ms": round(seconds * 1000, 1)}
        _access.handle(record)


def route_template(scope: Scope) -> str:
    """The matched route's path template (Starlette leaves the route in the
    scope): bounded label values, unlike raw paths with ids in them."""
    route = scope.get("route")
    return getattr(route, "path", None) or "<unmatched>"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope)
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            # Starlette's error handler (ServerErrorMiddleware, where the 500
            # page is made and the trace logged) sits outside this middleware:
            # the id stays bound for it. Each request runs in a task of its
            # own, with a copy of the context, so it does not reach the next.
            access_log(scope["method"], scope["path"], status, started, route=route_template(scope))
            raise
        access_log(scope["method"], scope["path"], status, started, route=route_template(scope))
        request_id_var.reset(token)
