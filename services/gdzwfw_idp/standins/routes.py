"""Development stand-ins for the two WeChat mini-programs (DESIGN.md § Stand-ins).

Mounted only when ``stand_ins_enabled`` (development). They play the outside
party and nothing more: the face check approves a one-time session with a
person taken from 人口库; the licence wallet signs an assertion with the
licence authority's development key and posts it through the same code path
as the real callback (``verification.licence.assertions.accept_assertion``), where the provider
checks it in full.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.login.sessions import read_form
from services.gdzwfw_idp.models import LegalPersonRecord, PersonRecord
from services.gdzwfw_idp.qr.routes import masked_person
from services.gdzwfw_idp.registry import check_person
from services.gdzwfw_idp.verification.licence.assertions import accept_assertion
from services.gdzwfw_idp.verification.licence.verifier import sign_assertion
from shared.web.app import render

__all__ = ["standin_router"]

WRONG_SCOPE = "电子政务-市场监管-其他事项"


def _gone(state, kind: str, sid: str) -> str:
    return msg.QR_USED if state.idp.qr.was_used(kind, sid) else msg.QR_EXPIRED


def standin_router() -> APIRouter:
    router = APIRouter()

    # -- 微信扫码人脸识别 --------------------------------------------------------------
    @router.get("/m/face", include_in_schema=False)
    async def face(request: Request, s: str = "") -> Response:
        state = request.app.state

        def load():
            pending = state.idp.qr.peek("face", s)
            with state.db.transaction() as db:
                people = list(db.execute(select(PersonRecord).order_by(PersonRecord.name)).scalars())
                db.expunge_all()
            return pending, [(p.id_number, masked_person(p.name, p.id_number)) for p in people]

        pending, people = await run_in_threadpool(load)
        return render(request, "standin_face.html", {"s": s, "pending": pending, "people": people, "done": None, "error": None if pending else _gone(state, "face", s)})

    @router.post("/m/face", include_in_schema=False)
    async def face_approve(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        sid = form.get("s", "")

        def approve() -> tuple[str | None, str | None]:
            with state.db.transaction() as db:
                person = db.get(PersonRecord, form.get("id_number", ""))
                if person is None or check_person(db, id_number=person.id_number, name=person.name):
                    return None, "人脸识别未通过：人口库中无此人"
                name, id_number = person.name, person.id_number
            outcome = state.idp.qr.approve("face", sid, {"name": name, "id_number": id_number})
            if outcome != "approved":
                return None, msg.QR_USED if outcome == "used" else msg.QR_EXPIRED
            return masked_person(name, id_number), None

        done, error = await run_in_threadpool(approve)
        return render(request, "standin_face.html", {"s": sid, "pending": None, "people": [], "done": done, "error": error}, status_code=400 if error else 200)

    # -- 电子营业执照 -------------------------------------------------------------------
    @router.get("/m/licence", include_in_schema=False)
    async def licence(request: Request, s: str = "") -> Response:
        state = request.app.state

        def load():
            pending = state.idp.qr.peek("licence", s)
            with state.db.transaction() as db:
                units = list(db.execute(select(LegalPersonRecord).where(LegalPersonRecord.status == "存续").order_by(LegalPersonRecord.org_name)).scalars())
                db.expunge_all()
            return pending, units

        pending, units = await run_in_threadpool(load)
        return render(
            request,
            "standin_licence.html",
            {"s": s, "pending": pending, "units": units, "scopes": [state.idp.settings.licence_scope, WRONG_SCOPE], "done": None, "error": None if pending else _gone(state, "licence", s)},
        )

    @router.post("/m/licence", include_in_schema=False)
    async def licence_confirm(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        idp = state.idp
        sid = form.get("s", "")

        def confirm() -> tuple[str | None, str | None]:
            key_file = idp.settings.dev_licence_private_key_file()
            if key_file is None:
                return None, "未找到开发环境的电子营业执照签名密钥，请先运行 python -m devtools.certs"
            with state.db.transaction() as db:
                unit = db.get(LegalPersonRecord, form.get("uscc", ""))
                if unit is None:
                    return None, "请选择电子营业执照"
                claims = {"uscc": unit.uscc, "org_name": unit.org_name, "legal_rep_name": unit.legal_rep_name}
            now = state.clock.timestamp()
            token = sign_assertion(
                key_file.read_bytes(),
                {
                    "iss": idp.settings.licence_authority_issuer,
                    "aud": idp.settings.public_url,
                    "sid": sid,
                    "jti": uuid.uuid4().hex,
                    "iat": now,
                    "exp": now + 120,
                    "scope": form.get("scope", ""),
                    **claims,
                },
            )
            accepted = accept_assertion(idp, token=token, sid=sid)
            return (accepted.message, None) if accepted.ok else (None, accepted.message)

        done, error = await run_in_threadpool(confirm)
        return render(request, "standin_licence.html", {"s": sid, "pending": None, "units": [], "scopes": [], "done": done, "error": error}, status_code=400 if error else 200)

    return router
