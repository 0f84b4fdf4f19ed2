"""Liveness and readiness (DESIGN.md: ``/healthz``, ``/readyz``).

``/healthz`` answers while the process runs and does no I/O: an orchestrator
that restarts on a failed liveness probe must not restart every replica
because the database is down. ``/readyz`` says whether this replica can
serve now (database and, when configured, Redis reachable), so a load
balancer or ``devtools.stack`` sends traffic only to replicas that can.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.db import Database
from shared.kvstore import KeyValueStore, RedisKeyValueStore

__all__ = ["health_router", "SKIP_SESSION_PATHS"]

log = logging.getLogger("web.health")
NO_STORE = {"Cache-Control": "no-store"}
# Probes neither read nor create a session (they come every few seconds).
SKIP_SESSION_PATHS = ("/healthz", "/readyz")


def health_router(*, service_name: str, db: Database, kv: KeyValueStore, timeout: float) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def ping_database() -> None:
        with db.transaction() as s:
            s.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], object]] = {"database": ping_database}
    if isinstance(kv, RedisKeyValueStore):
        checks["redis"] = kv.ping
    # Probes get threads of their own: a check stuck on a dead peer is
    # abandoned at the timeout and must not hold the request threads, which
    # are capped to the database pool (build_app); at most two linger.
    limiter = anyio.CapacityLimiter(2)

    async def run(name: str, check: Callable[[], object]) -> str:
        try:
            with anyio.fail_after(timeout):
                await anyio.to_thread.run_sync(check, limiter=limiter, abandon_on_cancel=True)
        except Exception as exc:  # any failure is "not ready"; the reason goes to the log only
            log.warning("readiness check failed", extra={"fields": {"check": name, "error": type(exc).__name__}})
            return "unavailable"
        return "ok"

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "service": service_name}, headers=NO_STORE)

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = {name: await run(name, check) for name, check in checks.items()}
        ready = all(result == "ok" for result in results.values())
        body = {"status": "ok" if ready else "unavailable", "service": service_name, "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)

    return router
