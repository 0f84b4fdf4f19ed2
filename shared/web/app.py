"""What every service's ``create_app`` shares: middleware, templates, errors.

``build_app`` returns a FastAPI application whose ``state`` carries the
injected parts (settings, database, key-value store, clock, token source,
templates). Handlers reach them through the dependencies of
:mod:`shared.web.deps` (the only request-time reader of ``app.state``); nothing is a
module global, so tests build as many differently configured apps as they like.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Table
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.clock import BEIJING, Clock, SystemClock
from shared.db import Database, startup_lock
from shared.db_async import AsyncReads
from shared.kvstore import KeyValueStore, RedisTimeouts, StoreUnavailable, make_kv_store
from shared.metrics import CONTENT_TYPE_LATEST, exposition
from shared.randomness import SystemTokenSource, TokenSource
from shared.settings import ServiceSettings
from shared.tracing import instrument, make_tracer_provider, tracing_configured
from shared.web.care import CARE_PATH, care_mode, care_switch_href, switch_care_mode
from shared.web.csrf import CsrfError, csrf_token
from shared.web.deps import Redirect, Refused, no_nul_in_address, state
from shared.web.fastlane import MachineRequest, MachineResponse, ServiceApp
from shared.web.health import add_health_probes
from shared.web.logs import RequestIdMiddleware
from shared.web.security_headers import content_security_policy, secure_pages
from shared.web.sessions import ServerSessionMiddleware

__all__ = ["Runtime", "build_app", "render", "error_page", "wants_json"]

SHARED_TEMPLATES = Path(__file__).parent / "templates"
SHARED_STATIC = Path(__file__).parent / "static"
log = logging.getLogger("web")

_STATUS_TEXT = {
    400: "请求无效，请返回重新操作",
    401: "请先登录",
    403: "您没有权限访问此页面",
    404: "您访问的页面不存在",
    405: "不支持该操作方式",
    429: "操作过于频繁，请稍后再试",
}


@dataclass
class Runtime:
    """The injected parts every service is built from."""

    settings: ServiceSettings
    db: Database
    kv: KeyValueStore
    clock: Clock
    tokens: TokenSource
    # Reads on the event loop for hot paths (shared.db_async); opened in the lifespan.
    reads: AsyncReads
    # Tests hand one in (an in-memory exporter); otherwise shared.tracing makes
    # one when an OTLP endpoint is configured, and tracing is off without.
    tracer_provider: Any = None

    @classmethod
    def create(
        cls, settings: ServiceSettings, *, namespace: str, kv_table: Table, clock: Clock | None = None, tokens: TokenSource | None = None
    ) -> Runtime:
        clock = clock or SystemClock()
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        reads = AsyncReads(db, pool_size=settings.db_async_pool_size)
        timeouts = RedisTimeouts(
            socket=settings.redis_socket_timeout, connect=settings.redis_connect_timeout, health_check=settings.redis_health_check_interval
        )
        kv = make_kv_store(
            redis_url=settings.redis_url,
            redis_prefix=settings.redis_key_prefix,
            redis_timeouts=timeouts,
            namespace=namespace,
            db=db,
            table=kv_table,
            clock=clock,
            reads=reads,
        )
        return cls(settings=settings, db=db, kv=kv, clock=clock, tokens=tokens or SystemTokenSource(), reads=reads)


def build_app(
    *,
    runtime: Runtime,
    service_name: str,
    title: str,
    template_dirs: Sequence[Path],
    cookie_name: str,
    brand: str | None = None,
    home_path: str = "/",
    connect_sources: Sequence[str] = (),
    form_targets: Sequence[str] | None = (),
    on_startup: Callable[[], None] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """``brand`` (the name in the pages' header) defaults to ``title``.
    ``on_startup`` runs in a worker thread before the first request
    (signing keys, configured clients, demo data), under the start-up lock;
    ``on_shutdown`` after the last. ``connect_sources`` and ``form_targets``
    widen the pages' Content-Security-Policy (see
    :func:`shared.web.security_headers.content_security_policy`)."""
    settings, db, kv, clock, tokens = runtime.settings, runtime.db, runtime.kv, runtime.clock, runtime.tokens
    tracer_provider = runtime.tracer_provider
    if tracer_provider is None and tracing_configured(settings.otel_exporter_otlp_endpoint):
        tracer_provider = make_tracer_provider(service_name, settings.otel_exporter_otlp_endpoint)

    def _one_replica_at_a_time(step: Callable[[], None]) -> None:
        # Replicas starting together on an empty database would each insert
        # the first signing key and the client rows (UniqueViolation).
        with startup_lock(db.url, "start-up writes"):
            step()

    @asynccontextmanager
    async def lifespan(app: ServiceApp) -> AsyncIterator[None]:
        # Every blocking call runs in a worker thread holding at most one
        # pooled connection: as many threads as connections, no more.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        if on_startup is not None:
            await run_in_threadpool(_one_replica_at_a_time, on_startup)
        for resource in app.resources:
            await resource.open()
        yield
        for resource in reversed(app.resources):
            await resource.close()
        if on_shutdown is not None:
            await on_shutdown()
        db.dispose()
        if tracer_provider is not None:
            # Send what the batch processor still holds.
            tracer_provider.force_flush()

    app = ServiceApp(
        title=title,
        # The API description is for developers; production does not publish it.
        openapi_url="/openapi.json" if settings.is_development else None,
        docs_url="/docs" if settings.is_development else None,
        redoc_url=None,
        lifespan=lifespan,
        trusted_proxies=settings.trusted_proxies,
        dependencies=[Depends(no_nul_in_address)],
    )
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader([*map(str, template_dirs), str(SHARED_TEMPLATES)])])
    # auto_reload stats every template file of a page on every render (a
    # twentieth of a login page's CPU); only development edits them while running.
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html"]), auto_reload=settings.is_development)
    templates = Jinja2Templates(env=env)
    env.globals.update(
        csrf_token=functools.partial(csrf_token, tokens=tokens),
        brand=brand or title,
        service_name=service_name,
        home_path=home_path,
        hotline=settings.hotline,
        care_mode=care_mode,
        care_switch_href=lambda request, home=False: care_switch_href(request, home_path, home=home),
    )
    env.filters["beijing_time"] = beijing_time

    # Opened in the serving loop (lifespan), in this order: the kv store's reads use the pool.
    app.add_resource(runtime.reads)
    app.add_resource(kv)
    app.state.settings = settings
    app.state.db = db
    app.state.kv = kv
    app.state.clock = clock
    app.state.tokens = tokens
    app.state.templates = templates
    app.state.service_name = service_name
    # Collectors read when /metrics is scraped (a provider's outbox depth).
    app.state.metrics_collectors = []

    app.add_middleware(
        ServerSessionMiddleware,
        store=kv,
        tokens=tokens,
        clock=clock,
        cookie_name=cookie_name,
        idle_seconds=settings.session_idle_seconds,
        secure=settings.cookie_secure,
        # Health probes and the other machine endpoints never reach this
        # middleware (fast lane); static files neither read nor slide a session.
        skip_prefixes=("/static/",),
    )
    app.add_middleware(RequestIdMiddleware)
    if tracer_provider is not None:
        # Before secure_pages: FastAPI's instrumentation wraps the stack only
        # when it still begins with ServerErrorMiddleware.
        instrument(app, db.engine, tracer_provider)
    app.state.tracer_provider = tracer_provider
    policy = content_security_policy(connect_sources=connect_sources, form_targets=form_targets)
    secure_pages(app, policy=policy, hsts=settings.cookie_secure)
    app.mount("/static", StaticFiles(directory=SHARED_STATIC), name="static")

    @app.get(CARE_PATH, include_in_schema=False)
    async def _care_mode(request: Request) -> Response:
        return switch_care_mode(request, home_path=home_path, secure=settings.cookie_secure)

    add_health_probes(app, service_name=service_name, db=db, kv=kv, timeout=settings.readiness_timeout)
    if settings.environment != "production":
        # In production only the internal metrics port answers (manage serve, *_METRICS_PORT).
        _add_metrics(app)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return error_page(request, 400, "页面已过期或来源无法确认，请返回上一页刷新后重新提交。")

    @app.exception_handler(Redirect)
    async def _redirect(request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=exc.status_code)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return error_page(request, exc.status_code, exc.message, back_url=exc.back_url, title=exc.title)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail and not exc.detail.isascii() else None
        return error_page(request, exc.status_code, detail or _STATUS_TEXT.get(exc.status_code, "请求无法完成"), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "invalid_request", "error_description": "invalid parameters"}, status_code=400)
        return error_page(request, 400, "提交的信息不完整或格式不正确，请返回检查后重新提交。")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StoreUnavailable):
            # Raised in the session middleware too, which only this handler
            # (Starlette's outermost) sees. A known outage: no trace to log.
            log.error("key-value store unavailable", extra={"fields": {"error": str(exc)}})
            busy = f"系统暂时无法处理您的请求，请稍后再试。如问题持续，请拨打 {settings.hotline} 咨询并提供下方的请求编号。"
            return error_page(request, 503, busy, title="服务暂时不可用")
        # The trace goes to the log with the request id, never to the user.
        log.exception("unhandled error")
        return error_page(request, 500, f"系统繁忙，请稍后再试。如问题持续，请拨打 {settings.hotline} 咨询并提供下方的请求编号。")

    return app


def _add_metrics(app: ServiceApp) -> None:
    async def metrics(request: MachineRequest) -> MachineResponse:
        # Collectors may query the database: not on the event loop.
        body = await run_in_threadpool(exposition, app.state.metrics_collectors)
        return MachineResponse(status=200, body=body, headers=[(b"content-type", CONTENT_TYPE_LATEST.encode())])

    app.add_fast_route("/metrics", metrics, methods=["GET"])


def beijing_time(value: dt.datetime | None) -> str:
    """Times are stored in UTC and shown to users in Beijing time."""
    if value is None:
        return "—"
    if value.tzinfo is None:  # SQLite returns naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200, headers: dict | None = None
) -> HTMLResponse:
    templates: Jinja2Templates = state(request, "templates")
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code, headers=headers)


def error_page(
    request: Request, status: int, message: str, *, headers: Any = None, back_url: str | None = None, title: str | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse({"error": "error", "status": status}, status_code=status, headers=headers)
    return render(
        request,
        "error.html",
        {
            "status": status,
            "message": message,
            "title": title or ("出错了" if status >= 500 else "无法完成操作"),
            "back_url": back_url,
            "request_id": getattr(request.state, "request_id", "-"),
        },
        status_code=status,
        headers=headers,
    )
