"""Development stand-ins for the two WeChat mini-programs (DESIGN.md § Stand-ins).

Mounted only when ``stand_ins_enabled`` (development); what they do is in
``mini_programs``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import FormDep, IdpDep
from services.gdzwfw_idp.standins.mini_programs import WRONG_SCOPE, approve_face, confirm_licence, gone, living_units, people
from shared.web.app import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


# -- 微信扫码人脸识别 --------------------------------------------------------------
@router.get("/m/face")
async def face(request: Request, idp: IdpDep, s: str = "") -> Response:
    pending = await run_in_threadpool(idp.qr.peek, "face", s)
    listed = await run_in_threadpool(people, idp)
    error = None if pending else await run_in_threadpool(gone, idp, "face", s)
    return render(request, "standin_face.html", {"s": s, "pending": pending, "people": listed, "done": None, "error": error})


@router.post("/m/face")
async def face_approve(request: Request, form: FormDep, idp: IdpDep) -> Response:
    sid = form.get("s", "")
    done, error = await run_in_threadpool(lambda: approve_face(idp, sid=sid, id_number=form.get("id_number", "")))
    context = {"s": sid, "pending": None, "people": [], "done": done, "error": error}
    return render(request, "standin_face.html", context, status_code=400 if error else 200)


# -- 电子营业执照 -------------------------------------------------------------------
@router.get("/m/licence")
async def licence(request: Request, idp: IdpDep, s: str = "") -> Response:
    pending = await run_in_threadpool(idp.qr.peek, "licence", s)
    units = await run_in_threadpool(living_units, idp)
    error = None if pending else await run_in_threadpool(gone, idp, "licence", s)
    scopes = [idp.settings.licence_scope, WRONG_SCOPE]
    return render(
        request, "standin_licence.html", {"s": s, "pending": pending, "units": units, "scopes": scopes, "done": None, "error": error}
    )


@router.post("/m/licence")
async def licence_confirm(request: Request, form: FormDep, idp: IdpDep) -> Response:
    sid = form.get("s", "")
    done, error = await run_in_threadpool(lambda: confirm_licence(idp, sid=sid, uscc=form.get("uscc", ""), scope=form.get("scope", "")))
    context = {"s": sid, "pending": None, "units": [], "scopes": [], "done": done, "error": error}
    return render(request, "standin_licence.html", context, status_code=400 if error else 200)
