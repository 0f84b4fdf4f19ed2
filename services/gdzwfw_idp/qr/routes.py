"""QR codes for one-time sessions, and the endpoints the page polls.

``kind`` is ``face`` (微信扫码人脸识别 for the registration's 申请人) or
``licence`` (电子营业执照: ``purpose`` ``login`` or ``verify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT, SESSION_ACT
from services.gdzwfw_idp.login.sessions import owner_of, read_form
from shared.identifiers import mask_id_number
from shared.qr import qr_svg

__all__ = ["QrView", "new_qr", "qr_router", "masked_person", "load_wizard", "save_wizard", "clear_wizard", "face_result"]

KINDS = {"face": "微信扫码人脸识别", "licence": "电子营业执照"}


@dataclass
class QrView:
    id: str
    svg: str
    url: str
    dev_url: str | None
    expires_at: int


def masked_person(name: str, id_number: str) -> str:
    shown = name[0] + "*" * (len(name) - 1) if name else ""
    return f"{shown}（{mask_id_number(id_number)}）"


def new_qr(request: Request, kind: str, data: dict[str, Any] | None = None) -> QrView:
    idp = request.app.state.idp
    session = idp.qr.create(kind, owner=owner_of(request), data=data)
    url = f"{idp.settings.public_url}/m/{kind}?s={session.id}"
    title = "微信小程序码" if kind == "face" else "电子营业执照扫码二维码"
    return QrView(id=session.id, svg=qr_svg(url, title=title), url=url, dev_url=url if idp.settings.stand_ins_enabled else None, expires_at=session.expires_at)


# The registration wizard and the face check's result live in the shared store
# under this browser's owner value, not in the session dict: the page polls
# while the user types, and a session written by one request must not undo
# what another wrote a moment earlier.
def _wizard_key(request: Request) -> str:
    return f"reg-wizard:{owner_of(request)}"


def load_wizard(request: Request) -> dict[str, Any]:
    state = request.app.state
    wizard = state.kv.get(_wizard_key(request)) or {}
    now = state.clock.timestamp()
    if not wizard.get("started") or now - int(wizard["started"]) > state.idp.settings.wizard_ttl:
        wizard = {"started": now}
    if "applicant" not in wizard and (applicant := face_result(request)):
        wizard["applicant"] = applicant
    return wizard


def save_wizard(request: Request, wizard: dict[str, Any]) -> None:
    request.app.state.kv.set(_wizard_key(request), wizard, request.app.state.idp.settings.wizard_ttl)


def clear_wizard(request: Request) -> None:
    request.app.state.kv.delete(_wizard_key(request))
    request.app.state.kv.delete(f"reg-face:{owner_of(request)}")


def face_result(request: Request) -> dict[str, str] | None:
    return request.app.state.kv.get(f"reg-face:{owner_of(request)}")


def licence_data(request: Request, purpose: str, interaction: str) -> dict[str, Any] | None:
    """What a licence QR session carries: for ``verify`` the account being verified."""
    if purpose == "login":
        return {"purpose": "login", "interaction": interaction}
    if purpose == "verify" and request.session.get(SESSION_ACCOUNT) and not request.session.get(SESSION_ACT):
        return {"purpose": "verify", "account_id": request.session[SESSION_ACCOUNT]}
    return None


def qr_router() -> APIRouter:
    router = APIRouter()

    @router.post("/qr/new", include_in_schema=False)
    async def new(request: Request) -> JSONResponse:
        form = await read_form(request)
        kind = form.get("kind", "")
        if kind == "face":
            data: dict[str, Any] | None = {"purpose": "register"}
        elif kind == "licence":
            data = licence_data(request, form.get("purpose", ""), form.get("interaction", ""))
        else:
            data = None
        if data is None:
            return JSONResponse({"message": "无法生成二维码，请刷新页面"}, status_code=400)
        view = await run_in_threadpool(new_qr, request, kind, data)
        return JSONResponse({"sid": view.id, "svg": view.svg, "url": view.dev_url or "", "expires_at": view.expires_at})

    @router.post("/qr/status", include_in_schema=False)
    async def status(request: Request) -> JSONResponse:
        form = await read_form(request)
        kind, sid = form.get("kind", ""), form.get("s", "")
        if kind not in KINDS:
            return JSONResponse({"status": "expired", "message": msg.QR_EXPIRED}, status_code=400)
        qr = request.app.state.idp.qr
        owner = owner_of(request)
        state = await run_in_threadpool(qr.status, kind, sid, owner=owner)
        if state == "approved" and kind == "face":
            # The registration page takes the face check's result into its wizard.
            claimed = await run_in_threadpool(qr.claim, kind, sid, owner=owner)
            if claimed is None:
                return JSONResponse({"status": "used", "message": msg.QR_USED})
            result, _ = claimed
            applicant = {"name": result["name"], "id_number": result["id_number"]}
            await run_in_threadpool(request.app.state.kv.set, f"reg-face:{owner}", applicant, request.app.state.idp.settings.wizard_ttl)
            shown = masked_person(result["name"], result["id_number"])
            return JSONResponse({"status": "approved", "message": f"人脸识别已通过：{shown}", "applicant": shown})
        if state == "approved":
            return JSONResponse({"status": "approved", "message": "扫码确认成功，正在处理…"})
        if state == "pending":
            return JSONResponse({"status": "pending"})
        return JSONResponse({"status": state, "message": msg.QR_USED if state == "used" else msg.QR_EXPIRED})

    return router
