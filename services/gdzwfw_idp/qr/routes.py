"""The endpoints a page showing a QR code calls: a fresh code, and polling its status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.deps import FormDep, IdpDep, OwnerDep
from services.gdzwfw_idp.qr.codes import KINDS, masked_person, new_qr, session_data
from services.gdzwfw_idp.registration.wizard import take_face_check

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.post("/qr/new")
async def new(request: Request, form: FormDep, owner: OwnerDep, idp: IdpDep) -> JSONResponse:
    kind = form.get("kind", "")
    data = session_data(request.session, kind=kind, purpose=form.get("purpose", ""), interaction=form.get("interaction", ""))
    if data is None:
        return JSONResponse({"message": "无法生成二维码，请刷新页面"}, status_code=400)
    view = await new_qr(idp, owner=owner, kind=kind, data=data)
    return JSONResponse({"sid": view.id, "text": view.url, "url": view.dev_url or "", "expires_at": view.expires_at})


@router.post("/qr/status")
async def status(form: FormDep, owner: OwnerDep, idp: IdpDep) -> JSONResponse:
    kind, sid = form.get("kind", ""), form.get("s", "")
    if kind not in KINDS:
        return JSONResponse({"status": "expired", "message": msg.QR_EXPIRED}, status_code=400)
    state = await run_in_threadpool(idp.qr.status, kind, sid, owner=owner)
    if state == "approved" and kind == "face":
        # The registration page takes the face check's result into its wizard.
        applicant = await run_in_threadpool(lambda: take_face_check(idp, owner=owner, sid=sid))
        if applicant is None:
            return JSONResponse({"status": "used", "message": msg.QR_USED})
        shown = masked_person(applicant["name"], applicant["id_number"])
        return JSONResponse({"status": "approved", "message": f"人脸识别已通过：{shown}", "applicant": shown})
    if state == "approved":
        return JSONResponse({"status": "approved", "message": "扫码确认成功，正在处理…"})
    if state == "pending":
        return JSONResponse({"status": "pending"})
    return JSONResponse({"status": state, "message": msg.QR_USED if state == "used" else msg.QR_EXPIRED})
