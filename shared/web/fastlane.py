"""A lane past the middleware stack for machine-to-machine endpoints.

Token, introspection, revocation, userinfo, discovery and JWKS are called by
programs, never by a browser: they use no server-side session, no CSRF, no
templates. Through FastAPI's middleware stack (sessions, request id and
access log, error handling, routing, dependency solving) a request to them
cost about half of the server's CPU in profiles (``make bench --profile``),
more than the protocol work itself. :class:`ServiceApp` answers a few exact
paths with plain ASGI handlers first, and gives everything else to FastAPI
unchanged.

A fast route still does what the middleware did for it: the request id (and
its ``X-Request-ID`` header), one access-log line, a JSON 500 without any
trace for an unexpected error (the trace goes to the log), a cap on the body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.web.logs import TRUSTED_PEER, access_log, incoming_request_id, request_id_var

__all__ = ["ServiceApp", "MachineRequest", "MachineResponse", "FastHandler", "json_response"]

log = logging.getLogger("web")
# Token and introspection requests are a few hundred bytes; the cap stops a
# client from making us buffer megabytes before we know who it is.
MAX_BODY = 64 * 1024
_FORM = "application/x-www-form-urlencoded"
NOSNIFF = (b"x-content-type-options", b"nosniff")


@dataclass
class MachineRequest:
    method: str
    path: str
    query_string: str
    headers: Headers
    body: bytes
    client_host: str | None
    request_id: str

    def form(self) -> list[tuple[str, str]]:
        """The urlencoded body (RFC 6749 §3.2: the only encoding these endpoints take)."""
        if self.method != "POST" or not self.headers.get("content-type", "").startswith(_FORM):
            return []
        try:
            return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return []

    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)


@dataclass
class MachineResponse:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


FastHandler = Callable[[MachineRequest], Awaitable[MachineResponse]]


class AsyncResource(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


def json_response(data: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> MachineResponse:
    body = orjson.dumps(data)
    raw = [(b"content-type", b"application/json")]
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    return MachineResponse(status=status, body=body, headers=raw)


_TOO_LARGE = json_response({"error": "invalid_request", "error_description": "request body too large"}, 413)
_SERVER_ERROR = json_response({"error": "server_error"}, 500)
# No parameter of these endpoints holds a NUL byte, and PostgreSQL's text
# cannot: refused as the protocol's invalid_request before any lookup.
_NUL = json_response({"error": "invalid_request", "error_description": "a parameter contains a NUL character"}, 400)


def _carries_nul(scope: Scope, body: bytes) -> bool:
    raw = scope["query_string"] + body
    return b"%00" in raw or b"\x00" in raw or "\x00" in scope["path"]


class ServiceApp(FastAPI):
    """FastAPI, with exact-path ASGI handlers tried before its middleware.

    ``trusted_proxies`` (comma-separated addresses or networks) are the peers
    whose X-Forwarded-For / -Proto (uvicorn's ProxyHeadersMiddleware, run here
    instead of by uvicorn) and X-Request-ID are believed. It runs here because
    uvicorn's would replace the peer before the app could see who it was."""

    def __init__(self, *args, trusted_proxies: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fast_routes: dict[str, dict[str, FastHandler]] = {}
        self.resources: list[AsyncResource] = []
        # None without proxies: the hot path then pays nothing for them.
        self._proxy_headers = ProxyHeadersMiddleware(self._dispatch, trusted_hosts=trusted_proxies) if trusted_proxies.strip() else None
        # The fast lane's server spans (shared.tracing); None while tracing is off.
        self._traced_fast: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    def trace_fast_lane(self, tracer_provider: object | None, **options: object) -> None:
        """Give fast-lane requests a server span each (FastAPI's instrumentation never sees them); None stops it."""
        if tracer_provider is None:
            self._traced_fast = None
            return
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        async def fast(scope: Scope, receive: Receive, send: Send) -> None:
            await self._fast(self.fast_routes[scope["path"]], scope, receive, send)

        # Exact paths: "POST /token" is a bounded span name, as a route template would be.
        self._traced_fast = OpenTelemetryMiddleware(
            fast, tracer_provider=tracer_provider, default_span_details=lambda scope: (f"{scope['method']} {scope['path']}", {}), **options
        )

    def add_resource(self, resource: AsyncResource) -> None:
        """Opened in the serving event loop at start-up, closed at shutdown (build_app's lifespan)."""
        self.resources.append(resource)

    def add_fast_route(self, path: str, handler: FastHandler, *, methods: Iterable[str]) -> None:
        by_method = self.fast_routes.setdefault(path, {})
        for method in methods:
            by_method[method.upper()] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        proxy = self._proxy_headers
        if proxy is not None and scope["type"] != "lifespan":
            client = scope.get("client")
            if client is not None and client[0] in proxy.trusted_hosts:
                scope[TRUSTED_PEER] = True
            await proxy(scope, receive, send)
            return
        await self._dispatch(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            routes = self.fast_routes.get(scope["path"])
            if routes is not None:
                if self._traced_fast is None:
                    await self._fast(routes, scope, receive, send)
                else:
                    await self._traced_fast(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _fast(self, routes: dict[str, FastHandler], scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = incoming_request_id(scope)
        token = request_id_var.set(rid)
        method = scope["method"]
        try:
            handler = routes.get(method)
            if handler is None:
                allow = ", ".join(sorted(routes))
                response = json_response({"error": "invalid_request", "error_description": "method not allowed"}, 405, [("allow", allow)])
            else:
                body = await _read_body(receive, MAX_BODY)
                if body is None:
                    response = _TOO_LARGE
                elif _carries_nul(scope, body):
                    response = _NUL
                else:
                    client = scope.get("client")
                    request = MachineRequest(
                        method=method,
                        path=scope["path"],
                        query_string=scope["query_string"].decode("latin-1"),
                        headers=Headers(scope=scope),
                        body=body,
                        client_host=client[0] if client else None,
                        request_id=rid,
                    )
                    try:
                        response = await handler(request)
                    except Exception:
                        # The trace goes to the log with the request id, never to the caller.
                        log.exception("unhandled error")
                        response = _SERVER_ERROR
            # JSON for programs: nosniff, but no page policy (see shared.web.security_headers).
            headers = [*response.headers, (b"content-length", str(len(response.body)).encode()), (b"x-request-id", rid.encode()), NOSNIFF]
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
            access_log(method, scope["path"], response.status, started)
        finally:
            request_id_var.reset(token)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
