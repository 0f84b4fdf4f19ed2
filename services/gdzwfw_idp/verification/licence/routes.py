"""电子营业执照核验 pages, and the licence wallet's callback."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import FormDep, IdpDep, OwnerDep, VerifyingLegalPerson
from services.gdzwfw_idp.flash import flash
from services.gdzwfw_idp.login.sessions import Current
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.qr.codes import new_qr
from services.gdzwfw_idp.verification.licence import service
from services.gdzwfw_idp.verification.licence.assertions import accept_assertion
from services.gdzwfw_idp.verification.records import actor_of
from shared.web.app import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


async def licence_page(
    request: Request, idp: IdpParts, *, owner: str, me: Current, error: str | None = None, status_code: int = 200
) -> Response:
    qr = await new_qr(idp, owner=owner, kind="licence", data={"purpose": "verify", "account_id": me.account.id})
    context = {
        "me": me,
        "account": me.account,
        "qr": qr,
        "error": error,
        "scope": idp.settings.licence_scope,
        "configured": idp.licence.configured(),
        "section": "verification",
    }
    return render(request, "verify_licence.html", context, status_code=status_code)


@router.get("/account/verification/licence")
async def licence(request: Request, me: VerifyingLegalPerson, owner: OwnerDep, idp: IdpDep) -> Response:
    return await licence_page(request, idp, owner=owner, me=me)


@router.post("/account/verification/licence/complete")
async def licence_complete(request: Request, form: FormDep, me: VerifyingLegalPerson, owner: OwnerDep, idp: IdpDep) -> Response:
    error = await run_in_threadpool(
        lambda: service.upgrade(
            idp, owner=owner, sid=form.get("s", ""), account_id=me.account.id, uscc=me.account.uscc, actor=actor_of(me.account.login_name)
        )
    )
    if error:
        return await licence_page(request, idp, owner=owner, me=me, error=error, status_code=400)
    flash(request, "电子营业执照核验成功。")
    return RedirectResponse("/account/verification", status_code=303)


# -- the licence wallet's callback (server to server; authenticated by the signature) --
@router.post("/licence/callback")
async def licence_callback(request: Request, idp: IdpDep) -> JSONResponse:
    form = await request.form()
    token, sid = str(form.get("assertion", "")), str(form.get("sid", ""))
    if not token or not sid or len(token) > 8000:
        return JSONResponse({"error": "invalid_request", "message": "缺少授权凭证"}, status_code=400)
    accepted = await run_in_threadpool(lambda: accept_assertion(idp, token=token, sid=sid))
    if not accepted.ok:
        return JSONResponse({"error": accepted.code, "message": accepted.message}, status_code=400)
    return JSONResponse({"status": "approved", "message": accepted.message})
