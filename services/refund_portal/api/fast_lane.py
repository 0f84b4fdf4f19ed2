"""The API's reads on the fast lane (:mod:`shared.web.fastlane`).

Integrators call ``GET /api/v1/me`` and ``GET /api/v1/refunds/me`` with
every page they build, all refund season. Through the page stack (sessions,
CSRF, templates' middleware, routing, dependency solving) and two thread
hand-offs (the cached introspection, the ORM query) one such call cost
about 4 ms of CPU (``make bench-chain --profile``). Here it is answered
before the middleware, with the token's cached introspection and the
unit's records read on the event loop (:mod:`shared.db_async`). The checks
and the bodies are the same functions the FastAPI routes run
(:class:`~services.refund_portal.api.bearer.ApiTokens`,
:mod:`~services.refund_portal.api.refunds`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.refund_portal.admission import READ
from services.refund_portal.api.bearer import ApiTokens, BearerRefused
from services.refund_portal.api.refunds import me_body, my_refunds_body
from services.refund_portal.records import RecordRows
from shared.web.fastlane import FastHandler, MachineRequest, MachineResponse, json_response

__all__ = ["api_fast_routes"]


def api_fast_routes(*, tokens: ApiTokens, records_of: RecordRows) -> list[tuple[str, tuple[str, ...], FastHandler]]:
    def reading(body: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> FastHandler:
        async def handle(request: MachineRequest) -> MachineResponse:
            try:
                claims = await tokens.claims(request.headers, method=request.method, path=request.path, need=READ)
            except BearerRefused as refused:
                return json_response(refused.body, refused.status_code, refused.headers.items())
            return json_response(await body(claims))

        return handle

    async def me(claims: dict[str, Any]) -> dict[str, Any]:
        return me_body(claims)

    async def my_refunds(claims: dict[str, Any]) -> dict[str, Any]:
        return await my_refunds_body(records_of, claims)

    return [("/api/v1/me", ("GET",), reading(me)), ("/api/v1/refunds/me", ("GET",), reading(my_refunds))]
