"""Development page listing the SMS outbox (only mounted in development)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from shared.sms import OutboxGateway
from shared.web.app import render

__all__ = ["sms_outbox_router"]


def sms_outbox_router(gateway: OutboxGateway, *, path: str = "/dev/sms") -> APIRouter:
    router = APIRouter()

    @router.get(path, include_in_schema=False)
    async def outbox(request: Request) -> Response:
        def load() -> list[dict]:
            with request.app.state.db.transaction() as db:
                return gateway.latest(db)

        return render(request, "dev_sms.html", {"messages": await run_in_threadpool(load)})

    return router
