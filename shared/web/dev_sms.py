"""Development page listing the SMS outbox (only mounted in development)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from shared.sms import OutboxGateway
from shared.web.app import render
from shared.web.deps import DbDep, from_state

__all__ = ["router", "mount_sms_outbox"]

router = APIRouter(include_in_schema=False)


@router.get("/dev/sms")
async def outbox(request: Request, db: DbDep, gateway: Annotated[OutboxGateway, Depends(from_state("sms_outbox"))]) -> Response:
    def load() -> list[dict]:
        with db.transaction() as s:
            return gateway.latest(s)

    return render(request, "dev_sms.html", {"messages": await run_in_threadpool(load)})


def mount_sms_outbox(app: FastAPI, gateway: OutboxGateway) -> None:
    """Start-up: the page, reading ``gateway``'s messages."""
    app.state.sms_outbox = gateway
    app.include_router(router)
