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
from sqlalchemy import text

from shared.db import Database
from shared.kvstore import KeyValueStore, RedisKeyValueStore
from shared.web.fastlane import MachineRequest, MachineResponse, ServiceApp, json_response

__all__ = ["add_health_probes"]

log = logging.getLogger("web.health")
NO_STORE = [("cache-control", "no-store")]


def add_health_probes(app: ServiceApp, *, service_name: str, db: Database, kv: KeyValueStore, timeout: float) -> None:
    """``/healthz`` and ``/readyz`` on the fast lane (machine endpoints)."""

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

    async def healthz(_: MachineRequest) -> MachineResponse:
        return json_response({"status": "ok", "service": service_name}, headers=NO_STORE)

    async def readyz(_: MachineRequest) -> MachineResponse:
        results = {name: await run(name, check) for name, check in checks.items()}
        ready = all(result == "ok" for result in results.values())
        body = {"status": "ok" if ready else "unavailable", "service": service_name, "checks": results}
        return json_response(body, 200 if ready else 503, headers=NO_STORE)

    app.add_fast_route("/healthz", healthz, methods=("GET", "HEAD"))
    app.add_fast_route("/readyz", readyz, methods=("GET", "HEAD"))
