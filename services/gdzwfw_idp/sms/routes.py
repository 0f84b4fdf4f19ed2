"""POST /sms/send (获取验证码), for every form with an SMS code."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import AddressDep, FormDep, IdpDep
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT
from services.gdzwfw_idp.sms.sending import PURPOSES, send_code

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.post("/sms/send")
async def sms_send(request: Request, form: FormDep, address: AddressDep, idp: IdpDep) -> JSONResponse:
    purpose = form.get("purpose", "")
    if purpose not in PURPOSES:
        return JSONResponse({"sent": False, "error": "请求无效"}, status_code=400)
    account_id = request.session.get(SESSION_ACCOUNT)
    reply = await run_in_threadpool(
        lambda: send_code(
            idp,
            purpose=purpose,
            mobile=form.get("mobile", ""),
            login_name=form.get("login_name", ""),
            account_id=account_id,
            address=address,
        )
    )
    answer = reply.answer
    # A recovery code goes out after the answer (a background task), so the
    # answer takes as long whether or not the login and number belong together.
    background = BackgroundTask(reply.after) if reply.after is not None else None
    return JSONResponse(answer, status_code=200 if answer.get("sent") or answer.get("error") else 400, background=background)
