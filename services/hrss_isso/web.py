"""What the ISSO's pages share: showing a form again with its mistakes, a
one-time notice after a redirect, the answer to 获取验证码, and carrying the
provider's interaction id along. Who is logged in is in :mod:`.deps`; what
a login keeps in the session is in :mod:`.login.sessions`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from shared.oauth.provider.interaction import essential_acr
from shared.oauth.provider.provider import Provider
from shared.sms import SendResult
from shared.trust import TrustLevel
from shared.web.app import render, wants_json

__all__ = ["client_address", "sms_response", "page", "with_interaction", "parked", "required_level", "resume_or", "flash", "pop_flash"]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def with_interaction(path: str, interaction: str) -> str:
    if not interaction:
        return path
    return f"{path}{'&' if '?' in path else '?'}interaction={interaction}"


async def parked(provider: Provider, interaction: str):
    """The authorization request parked under ``interaction``, if it still
    waits (read on the event loop: the async routes that ask must not block it)."""
    return await provider.interactions.aget(interaction) if interaction else None


def required_level(found) -> TrustLevel:
    """The level a login for a waiting request must reach: its essential acr,
    else the chain's floor (DESIGN.md: units are admitted from 四级（原L2）)."""
    return essential_acr(found.params.get("claims")) or TrustLevel.L2


def resume_or(provider: Provider, interaction: str, fallback: str) -> RedirectResponse:
    """Back to the parked authorization request, or to ``fallback``."""
    if interaction:
        return RedirectResponse(f"{provider.config.issuer}/authorize/resume?interaction={interaction}", status_code=303)
    return RedirectResponse(fallback, status_code=303)


def sms_response(request: Request, result: SendResult, *, sent_to: str, template: str, context: dict[str, Any]) -> Response:
    """The outcome of 获取验证码 (sent to the masked number ``sent_to``): JSON
    for the page's script, else ``template`` again with it; 400 when nothing
    was sent."""
    message = f"验证码已发送至{sent_to}，5分钟内有效" if result.sent else (result.error or "")
    status = 200 if result.sent else 400
    if wants_json(request):
        return JSONResponse({"ok": result.sent, "message": message}, status_code=status)
    return page(request, template, {**context, "sms_ok": result.sent, "sms_message": message}, status=status)


def page(
    request: Request, template: str, context: dict[str, Any], *, errors: dict[str, str] | None = None, status: int | None = None
) -> Response:
    ctx = {"errors": errors or {}, **context}
    return render(request, template, ctx, status_code=status or (400 if errors else 200))


def flash(request: Request, message: str) -> None:
    """A one-time notice shown by the next page (after a redirect)."""
    request.session["flash"] = message


def pop_flash(request: Request) -> str | None:
    return request.session.pop("flash", None)
