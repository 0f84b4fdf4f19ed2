"""Structured logs with a request id on every line.

The id comes from ``X-Request-ID`` when the peer is a trusted proxy (the load
balancer sets one), otherwise it is generated: a client's own header is never
believed, or anyone could make their lines look like someone else's. It and it is echoed back so a user can quote it to support. Paths
are logged without query strings: those carry codes and states.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import observe_request

__all__ = [
    "configure_logging",
    "AccessBatchingHandler",
    "RequestIdMiddleware",
    "request_id_var",
    "get_logger",
    "incoming_request_id",
    "access_log",
    "TRUSTED_PEER",
]

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
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(record.created, record.levelname, record.name, record.getMessage(), getattr(record, "fields", None), exc)

    def line(self, created: float, level: str, logger: str, msg: str, fields: dict | None, exc: str | None = None) -> str:
        entry = {
            "ts": round(created, 3),
            "level": level,
            "service": self.service,
            "logger": logger,
            "request_id": request_id_var.get(),
            "msg": msg,
        }
        if trace_id_source is not None and (trace_id := trace_id_source()):
            entry["trace_id"] = trace_id
        if fields:
            entry.update(fields)
        if exc:
            entry["exc"] = exc
        # orjson: a JSON line per request, several times cheaper than json.dumps.
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = self.line(record.created, record.levelname, record.name, record.getMessage(), getattr(record, "fields", None))
        # The traceback follows on its own lines, as logging.Formatter does.
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line

    def line(self, created: float, level: str, logger: str, msg: str, fields: dict | None, exc: str | None = None) -> str:
        tail = " ".join(f"{k}={v}" for k, v in (fields or {}).items())
        line = f"{level:5} [{request_id_var.get()}] {logger}: {msg} {tail}".rstrip()
        return f"{line}\n{exc}" if exc else line


class AccessBatchingHandler(logging.StreamHandler):
    """A stream handler that writes the access lines of a moment together.

    The access line was a tenth of a token grant's server CPU (an A/B with
    the line off: +11 % grants/s), each line one ``write`` to the log's pipe
    or file and its flush (timed inside the server under load: 29 µs per
    line with the write, 25 µs batched). Like
    nginx's ``access_log … buffer= flush=``, access lines are kept until
    ``max_chars`` characters have gathered or ``max_delay`` seconds have passed, then
    written in one call. Every other line (any logger but ``access``, any
    level above INFO) is written at once, after the access lines before it,
    so the log keeps its order and a warning is never held back. At exit
    logging's shutdown flushes what is left; a killed process loses at most
    ``max_delay`` seconds of access lines.

    Why not logging.handlers.MemoryHandler: its flush hands the records to
    its target one at a time, which writes and flushes each again.
    """

    def __init__(self, stream=None, *, max_delay: float = 0.25, max_chars: int = 64 * 1024) -> None:
        super().__init__(stream)
        self.max_delay = max_delay
        self.max_chars = max_chars
        self._after_fork()
        _batching_handlers.add(self)

    def _after_fork(self) -> None:
        """A new process starts with nothing held and no flushing thread (a
        forked child's copies of the parent's lines are the parent's to write)."""
        self._pending: list[str] = []
        self._size = 0
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Called by Handler.handle with self.lock held.
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._add(line, batched=record.name == _access.name and record.levelno <= logging.INFO)

    def access(self, fields: dict) -> None:
        """An access line, formatted as ``emit`` would format its record
        (see :func:`access_log`: without the record and the logger's walk)."""
        line = self.formatter.line(time.time(), "INFO", _access.name, "request", fields) + self.terminator
        with self.lock:
            self._add(line, batched=True)

    def _add(self, line: str, *, batched: bool) -> None:
        self._pending.append(line)
        self._size += len(line)
        if not batched or self._size >= self.max_chars:
            self._write_pending()
        elif not self._wake.is_set():
            self._wake.set()
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_later, name="access-log-flush", daemon=True)
                self._flusher.start()

    def flush(self) -> None:
        with self.lock:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        text, self._pending, self._size = "".join(self._pending), [], 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:
            # As StreamHandler does for a line it cannot write: reported, not raised into a request.
            self.handleError(logging.makeLogRecord({"msg": "access log lines could not be written"}))

    def _flush_later(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.max_delay)
            with self.lock:
                self._wake.clear()  # lines added from here on wake the next round
                self._write_pending()


_batching_handlers: weakref.WeakSet[AccessBatchingHandler] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: [handler._after_fork() for handler in list(_batching_handlers)])


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    handler = AccessBatchingHandler()
    handler.setFormatter(JsonFormatter(service) if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # No formatter of ours prints the thread or the process: not looked up
    # for every record (the logging HOWTO's "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
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
        fields = {"method": method, "path": path, "status": status, "ms": round(seconds * 1000, 1)}
        handler = _direct_handler()
        if handler is not None:
            handler.access(fields)
            return
        # The record is made here and handed to the logger's handlers, as
        # Logger.info would after looking for its caller's file and line,
        # which no formatter of ours prints: that search and makeRecord's
        # checks were two thirds of the line's cost on a token grant.
        record = logging.LogRecord(_access.name, logging.INFO, __file__, 0, "request", None, None)
        record.fields = fields
        _access.handle(record)


def _direct_handler() -> AccessBatchingHandler | None:
    """The one handler an access line reaches when logging is as
    configure_logging left it (no handler or filter added since, as a test
    or an operator's own configuration may): the line is then formatted and
    handed to it directly. The logging module's record, filters and
    handler walk were half of the line's cost, and the line a tenth of a
    token grant's (an A/B with the line off: +11 % grants/s)."""
    root = logging.root
    if _access.handlers or _access.filters or not _access.propagate or root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if type(handler) is not AccessBatchingHandler or handler.filters or handler.level > logging.INFO:
        return None
    # Exactly ours: a subclass may format its records otherwise than ``line``.
    return handler if type(handler.formatter) in (JsonFormatter, TextFormatter) else None


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
