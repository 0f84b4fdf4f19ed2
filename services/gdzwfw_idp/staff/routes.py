"""办事大厅 staff console: find a unit, record the documents checked, raise it
to 五级（原L3） (办事大厅现场核验). Staff log in with password + TOTP; only the
``hall_officer`` role may raise a level, and every raise names the officer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import get_account, latest_level_changes, record_verification
from services.gdzwfw_idp.login.sessions import flash, pop_flash, read_form
from services.gdzwfw_idp.models import Account, StaffAccount
from services.gdzwfw_idp.registry import find_legal_person
from services.gdzwfw_idp.staff.accounts import ROLES, can_raise_level
from shared.identifiers import mask_id_number
from shared.trust import TrustLevel
from shared.web.app import error_page, render
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = ["staff_router", "DOCUMENTS"]

SESSION_STAFF = "staff_id"
# What an officer may tick; the first two (or the handler's pair) are required.
DOCUMENTS = {
    "licence": "营业执照（登记证书）原件",
    "rep_id": "法定代表人（负责人）身份证件原件",
    "handler_id": "经办人身份证件原件",
    "authorisation": "加盖单位公章的授权委托书",
}


def staff_router() -> APIRouter:
    router = APIRouter()

    def staff_of(request: Request) -> StaffAccount | None:
        staff_id = request.session.get(SESSION_STAFF)
        if not staff_id:
            return None
        with request.app.state.db.transaction() as db:
            staff = db.get(StaffAccount, staff_id)
            if staff is None or not staff.active:
                return None
            db.expunge(staff)
            return staff

    @router.get("/staff/login", include_in_schema=False)
    async def login_page(request: Request) -> Response:
        return render(request, "staff_login.html", {"error": None, "login_name": ""})

    @router.post("/staff/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        result = await run_in_threadpool(
            lambda: state.idp.staff.authenticate(state.db, login_name=form.get("login_name", ""), password=form.get("password", ""), code=form.get("totp", ""))
        )
        if result.staff_id is None:
            return render(request, "staff_login.html", {"error": result.error, "login_name": form.get("login_name", "")}, status_code=400)
        rotate_session(request)
        request.session[SESSION_STAFF] = result.staff_id
        return RedirectResponse("/staff", status_code=303)

    @router.post("/staff/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await read_form(request)
        request.session.pop(SESSION_STAFF, None)
        return RedirectResponse("/staff/login", status_code=303)

    @router.get("/staff", include_in_schema=False)
    async def console(request: Request, q: str = "") -> Response:
        staff = await run_in_threadpool(staff_of, request)
        if staff is None:
            return RedirectResponse("/staff/login", status_code=303)
        q = q.strip()[:60]

        def search() -> list[Account]:
            if not q:
                return []
            with request.app.state.db.transaction() as db:
                found = list(
                    db.execute(
                        select(Account)
                        .where(Account.account_type == "legal_person", or_(Account.uscc == q.upper(), Account.org_name.contains(q), Account.login_name == q))
                        .order_by(Account.org_name)
                        .limit(20)
                    ).scalars()
                )
                db.expunge_all()
                return found

        units = await run_in_threadpool(search)
        labels = {lvl.name: lvl.label for lvl in TrustLevel}
        return render(request, "staff_console.html", {"staff": staff, "role": ROLES.get(staff.role, staff.role), "q": q, "units": units, "labels": labels, "flash": pop_flash(request)})

    def unit_context(request: Request, staff: StaffAccount, account_id: str) -> dict[str, Any] | None:
        with request.app.state.db.transaction() as db:
            unit = get_account(db, account_id=account_id)
            if unit is None or unit.account_type != "legal_person":
                return None
            record = find_legal_person(db, uscc=unit.uscc or "")
            changes = latest_level_changes(db, account_id=unit.id, limit=10)
            db.expunge_all()
        return {
            "staff": staff,
            "role": ROLES.get(staff.role, staff.role),
            "can_raise": can_raise_level(staff.role),
            "unit": unit,
            "record": record,
            "masked_rep_id": mask_id_number(unit.legal_rep_id_number or ""),
            "changes": changes,
            "level": TrustLevel.from_name(unit.trust_level),
            "labels": {lvl.name: lvl.label for lvl in TrustLevel},
            "documents": DOCUMENTS,
            "errors": {},
        }

    @router.get("/staff/units/{account_id}", include_in_schema=False)
    async def unit_page(request: Request, account_id: str) -> Response:
        staff = await run_in_threadpool(staff_of, request)
        if staff is None:
            return RedirectResponse("/staff/login", status_code=303)
        ctx = await run_in_threadpool(unit_context, request, staff, account_id)
        if ctx is None:
            return error_page(request, 404, "未找到该法人账号", back_url="/staff")
        ctx["flash"] = pop_flash(request)
        return render(request, "staff_unit.html", ctx)

    @router.post("/staff/units/{account_id}/hall-check", include_in_schema=False)
    async def hall_check(request: Request, account_id: str) -> Response:
        form = await verify_csrf_form(request)
        staff = await run_in_threadpool(staff_of, request)
        if staff is None:
            return RedirectResponse("/staff/login", status_code=303)
        if not can_raise_level(staff.role):
            return error_page(request, 403, "您的角色（" + ROLES.get(staff.role, staff.role) + "）无权办理现场核验", back_url=f"/staff/units/{account_id}")
        checked = [d for d in form.getlist("documents") if d in DOCUMENTS]
        note = str(form.get("note", "")).strip()[:200]
        errors: dict[str, str] = {}
        if "licence" not in checked:
            errors["documents"] = "须核验营业执照（登记证书）原件"
        elif "rep_id" not in checked and not {"handler_id", "authorisation"} <= set(checked):
            errors["documents"] = "须核验法定代表人身份证件原件，或经办人身份证件原件及授权委托书"
        state = request.app.state

        def raise_level() -> str | None:
            with state.db.transaction() as db:
                unit = get_account(db, account_id=account_id)
                if unit is None or unit.account_type != "legal_person":
                    return "未找到该法人账号"
                record = find_legal_person(db, uscc=unit.uscc or "")
                if record is None or record.status != "存续":
                    return "该单位在法人基础库中无存续登记，不能办理现场核验"
                if errors:
                    return None
                record_verification(
                    db,
                    account=unit,
                    level=TrustLevel.L3,
                    method=msg.METHOD_HALL,
                    evidence=f"{staff.hall}现场核验；核验材料：{'、'.join(DOCUMENTS[d] for d in checked)}" + (f"；备注：{note}" if note else ""),
                    actor=f"办事大厅工作人员 {staff.name}（工号 {staff.login_name}）",
                    at=state.clock.now(),
                )
            return None

        problem = await run_in_threadpool(raise_level)
        if problem or errors:
            ctx = await run_in_threadpool(unit_context, request, staff, account_id)
            if ctx is None:
                return error_page(request, 404, "未找到该法人账号", back_url="/staff")
            ctx.update(errors=errors or {"documents": problem}, flash=None)
            return render(request, "staff_unit.html", ctx, status_code=400)
        flash(request, "现场核验已记录，账号可信等级为五级（原L3）。")
        return RedirectResponse(f"/staff/units/{account_id}", status_code=303)

    return router
