"""失业保险稳岗返还 pages: login through hrss_isso, the L2 gate, the unit's
稳岗返还信息确认 (its records, the explicit confirmation step), logout."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.refund_portal import messages
from services.refund_portal.admission import REQUIRED_LEVEL, admitted
from services.refund_portal.audit import Actor
from services.refund_portal.decisions import DECISIONS, NOTE_LIMIT, DecisionError, UnitDecision, decide
from services.refund_portal.logout import login_ended
from services.refund_portal.records import UnitIdentity, history_of, present, record_of_unit, records_of_unit
from shared.oauth.challenge import parse_bearer_challenge
from shared.oauth.client import LoginFailed, RelyingParty
from shared.trust import TrustLevel, require_level_claims
from shared.web.app import error_page, render
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = ["pages_router", "unit_actor", "client_address"]

log = logging.getLogger("refund.login")
FAILURE_TEXT = {
    "unreachable": "暂时无法连接广东人社统一认证，请稍后再试。",
    "state": "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。",
    "issuer_mismatch": "登录结果并非来自广东人社统一认证，未通过安全校验，已拒绝登录。",
    "invalid_response": "登录结果未通过安全校验（签名、签发方或有效期不符），已拒绝登录。",
    "upstream_error": "登录未完成。",
}
DONE_TEXT = {
    "confirm": "确认成功：{year} 年度稳岗返还信息已确认，经办机构将按确认的账户发放资金。",
    "decline": "已办理放弃：您单位已放弃 {year} 年度稳岗返还。",
    "report_account": "已提交：经办机构将核实更正您单位的银行账户，更正后请重新确认。",
}


def client_address(request: Request) -> str:
    # Behind configured proxies uvicorn has already put the forwarded address here.
    return request.client.host if request.client else "-"


def unit_actor(unit: dict[str, Any], *, acr: str | None, address: str) -> Actor:
    """The handler (``act``) acting for the unit; the unit itself when no
    handler was named."""
    act = unit.get("act") if isinstance(unit.get("act"), dict) else None
    if act and act.get("sub"):
        return Actor(kind="unit", id=str(act["sub"]), name=str(act.get("name") or act["sub"]), acr=acr, address=address)
    return Actor(kind="unit", id=str(unit.get("sub")), name=f"{unit.get('org_name') or ''}（单位账号）", acr=acr, address=address)


def _history(entries) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        detail = json.loads(e.detail)
        rows.append({"at": e.at, "what": messages.describe_entry(e.action, detail), "who": e.actor_name, "kind": e.actor_kind})
    return rows


STEP_UP_URL = f"/login?acr_values={REQUIRED_LEVEL.acr}&next=/"
AFTER_LOGIN = "after_login"


def upgrade_url(settings, unit: dict) -> str:
    """Where this login can raise its level: a handler logged in with an HRSS
    personal account (idp=hrss) upgrades at the ISSO's 实名认证 page; a
    provincial legal person through a new authorization request requiring
    L2, which the ISSO takes to gdzwfw_idp's 实名核验 and brings back."""
    if unit.get("idp") == "hrss":
        return f"{settings.isso_issuer.rstrip('/')}/realname"
    return STEP_UP_URL


def local_path(value: str) -> str | None:
    """A path on this site to return to after login, never another site's
    (no scheme, no ``//host``, no backslash tricks)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(c < " " for c in value):
        return None
    return value


def pages_router(*, rp: RelyingParty) -> APIRouter:
    router = APIRouter()

    async def drop_if_ended(request: Request) -> None:
        """A login ended over the back channel (single logout) is gone here too."""
        if await run_in_threadpool(login_ended, request.app.state.kv, request.session):
            request.session.clear()

    async def admitted_unit(request: Request) -> tuple[dict, UnitIdentity | None] | None:
        await drop_if_ended(request)
        unit = request.session.get("unit")
        if not unit or not admitted(request.session.get("acr")):
            return None
        return unit, UnitIdentity.from_claims(unit)

    @router.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        await drop_if_ended(request)
        unit = request.session.get("unit")
        if not unit:
            return render(request, "landing.html", {})
        acr = request.session.get("acr")
        level = TrustLevel.from_acr(acr)
        if not admitted(acr):
            settings = request.app.state.settings
            return render(
                request,
                "level_required.html",
                {
                    "unit": unit,
                    "level": level,
                    "required": REQUIRED_LEVEL,
                    "verification_url": upgrade_url(settings, unit),
                    "direct_verification_url": settings.gdzwfw_verification_url,
                },
                status_code=403,
            )
        identity = UnitIdentity.from_claims(unit)

        def load() -> list[dict[str, Any]]:
            if identity is None:
                return []
            with request.app.state.db.transaction() as s:
                return [
                    {**present(r), "history": _history(history_of(s, record_id=r.id))} for r in records_of_unit(s, unit=identity)
                ]

        records = await run_in_threadpool(load)
        flash = request.session.pop("flash", None)
        return render(request, "confirm.html", {"unit": unit, "level": level, "records": records, "flash": flash})

    def decision_context(record: dict, decision: str, **extra: Any) -> dict[str, Any]:
        return {"record": record, "decision": decision, "decision_label": messages.DECISION[decision], "note_limit": NOTE_LIMIT, **extra}

    @router.get("/refunds/{record_id}/decide", include_in_schema=False)
    async def decide_page(request: Request, record_id: int, decision: str = "confirm") -> Response:
        found = await admitted_unit(request)
        if found is None:
            return RedirectResponse("/", status_code=303)
        unit, identity = found
        if decision not in DECISIONS:
            return error_page(request, 400, messages.DECISION_ERROR["unknown_decision"], back_url="/")

        def load():
            if identity is None:
                return None
            with request.app.state.db.transaction() as s:
                r = record_of_unit(s, unit=identity, record_id=record_id)
                return present(r) if r else None

        record = await run_in_threadpool(load)
        if record is None:
            return error_page(request, 404, messages.DECISION_ERROR["not_found"], back_url="/")
        if not record["can_decide"]:
            text = messages.DECISION_ERROR["not_pending"].format(status=record["status_label"])
            return error_page(request, 409, text, back_url="/", title="无法办理")
        return render(request, "decide.html", {"unit": unit, **decision_context(record, decision, note="")})

    @router.post("/refunds/{record_id}/decide", include_in_schema=False)
    async def decide_submit(request: Request, record_id: int) -> Response:
        form = await verify_csrf_form(request)
        found = await admitted_unit(request)
        if found is None:
            return error_page(request, 403, "稳岗返还信息确认需要四级（原L2）或以上可信等级的单位账号，请重新登录。", back_url="/")
        unit, identity = found
        decision = str(form.get("decision", ""))
        note = str(form.get("note", ""))
        if decision not in DECISIONS:
            return error_page(request, 400, messages.DECISION_ERROR["unknown_decision"], back_url="/")
        state = request.app.state
        actor = unit_actor(unit, acr=request.session.get("acr"), address=client_address(request))
        try:
            version = int(str(form.get("version", "")))
        except ValueError:
            version = -1

        def run() -> tuple[dict | None, str | None, int]:
            """→ (record shown again, error text, status) or (record, None, 200) on success."""
            if identity is None:
                return None, messages.DECISION_ERROR["not_found"], 404
            with state.db.transaction() as s:
                current = record_of_unit(s, unit=identity, record_id=record_id)
                if current is None:
                    return None, messages.DECISION_ERROR["not_found"], 404
                shown = present(current)
                if current.status != "pending":
                    return shown, messages.DECISION_ERROR["not_pending"].format(status=shown["status_label"]), 409
                if current.version != version:
                    # The agency changed the record (e.g. corrected the account) since the unit looked.
                    return shown, messages.DECISION_ERROR["stale"], 409
                if form.get("declaration") != "yes":
                    return shown, messages.DECISION_ERROR["declaration"], 400
                try:
                    done = decide(
                        s,
                        unit=identity,
                        record_id=record_id,
                        choice=UnitDecision(decision=decision, note=note, channel="web", unit_sub=str(unit.get("sub") or "")),
                        actor=actor,
                        clock=state.clock,
                        audit_keys=state.audit_keys,
                    )
                except DecisionError as exc:
                    text = messages.DECISION_ERROR[exc.code].format(status=messages.STATUS.get(exc.status or "", ""))
                    return shown, text, 409 if exc.code == "not_pending" else 400
                return present(done), None, 200

        record, error, status = await run_in_threadpool(run)
        if record is None:
            return error_page(request, status, error or "", back_url="/")
        if error is not None:
            if status == 409:
                return error_page(request, 409, error, back_url="/", title="无法办理")
            return render(request, "decide.html", {"unit": unit, **decision_context(record, decision, note=note, error=error)}, status_code=status)
        request.session["flash"] = {"kind": "ok", "text": DONE_TEXT[decision].format(year=record["year"])}
        return RedirectResponse(f"/#record-{record_id}", status_code=303)

    @router.get("/login", include_in_schema=False)
    async def login(request: Request, fresh: int = 0, acr_values: str = "", max_age: str = "", next: str = "") -> Response:
        # Step-up (RFC 9470): a challenge's acr_values (and max_age) become a
        # new authorization request; only known levels at or above L2 are
        # asked. The first login asks L2 as a preference (the gate below
        # checks what comes back); a step-up asks it as essential, so each
        # provider on the way offers the upgrade instead of answering lower.
        asked = [lvl for v in acr_values.split() if (lvl := TrustLevel.from_acr(v)) is not None and lvl >= REQUIRED_LEVEL]
        acr = " ".join(lvl.acr for lvl in asked) or REQUIRED_LEVEL.acr
        claims = require_level_claims(min(asked)) if asked else ""
        request.session.pop(AFTER_LOGIN, None)
        if (path := local_path(next)) is not None:
            request.session[AFTER_LOGIN] = path
        try:
            return await rp.start(
                request,
                acr_values=acr,
                claims=claims,
                max_age=max_age if max_age.isdigit() else "",
                prompt="login" if fresh else "",
            )
        except LoginFailed as failure:
            return render(request, "login_failed.html", {"message": FAILURE_TEXT["unreachable"], "code": failure.kind}, status_code=502)

    @router.get("/login/step-up", include_in_schema=False)
    async def step_up(request: Request, challenge: str = "", next: str = "/") -> Response:
        """For front ends of the portal's API: hand over the API's RFC 9470
        ``WWW-Authenticate`` challenge as it came, and the login starts again
        with the levels (and max_age) it asks for, then returns to ``next``."""
        parsed = parse_bearer_challenge(challenge)
        if parsed is None or not parsed.is_step_up:
            return error_page(request, 400, "无法识别的认证要求，请返回重新登录。", back_url="/")
        params = {"acr_values": " ".join(parsed.acr_values), "next": local_path(next) or "/"}
        if parsed.max_age is not None:
            params["max_age"] = str(parsed.max_age)
        return RedirectResponse(f"/login?{urlencode(params)}", status_code=303)

    @router.get("/auth/callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        try:
            login = await rp.finish(request)
        except LoginFailed as failure:
            log.warning("login failed", extra={"fields": {"kind": failure.kind, "upstream_error": failure.upstream_error, "detail": failure.detail[:200]}})
            message = FAILURE_TEXT.get(failure.kind, FAILURE_TEXT["upstream_error"])
            upgrade = None
            if failure.upstream_error == "access_denied":
                message = "您已取消登录。"
            elif failure.upstream_error == "unmet_authentication_requirements":
                message = "您的账号可信等级不足，未能登录。稳岗返还信息确认需要四级（原L2）或以上，请先完成实名核验升级。"
                upgrade = STEP_UP_URL
            return render(request, "login_failed.html", {"message": message, "code": failure.upstream_error or failure.kind, "upgrade_url": upgrade}, status_code=400)
        claims = login.claims
        level = TrustLevel.from_acr(claims.get("acr"))
        rotate_session(request)
        request.session["unit"] = {
            "sub": claims["sub"],
            "org_name": claims.get("org_name"),
            "uscc": claims.get("uscc"),
            "unit_code": claims.get("unit_code"),
            "act": claims.get("act"),
            "idp": claims.get("idp"),
        }
        request.session["acr"] = level.acr if level else None
        request.session["id_token"] = login.id_token
        request.session["isso_sid"] = claims.get("sid")
        log.info("login", extra={"fields": {"acr": request.session["acr"], "admitted": admitted(request.session["acr"])}})
        # Back to where the login (or the step-up) set out from.
        return RedirectResponse(local_path(request.session.pop(AFTER_LOGIN, "") or "") or "/", status_code=303)

    @router.get("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        id_token = request.session.get("id_token")
        request.session.clear()
        public = request.app.state.settings.public_url
        url = await rp.logout_url(id_token_hint=id_token, post_logout_redirect_uri=f"{public}/")
        return RedirectResponse(url or "/", status_code=303)

    return router
