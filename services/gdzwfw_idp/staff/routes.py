"""办事大厅 staff console: find a unit, record the documents checked, raise it
to 五级（原L3） (办事大厅现场核验). Staff log in with password + TOTP; only the
``hall_officer`` role may raise a level, and every raise names the officer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import FormDep, HallOfficer, IdpDep, StaffMember
from services.gdzwfw_idp.flash import flash, pop_flash
from services.gdzwfw_idp.models import StaffAccount
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.staff.accounts import ROLES, SESSION_STAFF, can_raise_level
from services.gdzwfw_idp.staff.console import find_units, unit_record
from services.gdzwfw_idp.verification.hall import DOCUMENTS, record_hall_check
from shared.identifiers import mask_id_number
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.deps import CsrfForm, Refused
from shared.web.params import TokenId
from shared.web.sessions import rotate_session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LABELS = {lvl.name: lvl.label for lvl in TrustLevel}


@router.get("/staff/login")
async def login_page(request: Request) -> Response:
    return render(request, "staff_login.html", {"error": None, "login_name": ""})


@router.post("/staff/login")
async def login(request: Request, form: FormDep, idp: IdpDep) -> Response:
    login_name = form.get("login_name", "")[:40]
    result = await run_in_threadpool(
        lambda: idp.staff.authenticate(idp.db, login_name=login_name, password=form.get("password", ""), code=form.get("totp", ""))
    )
    if result.staff_id is None:
        return render(request, "staff_login.html", {"error": result.error, "login_name": login_name}, status_code=400)
    rotate_session(request)
    request.session[SESSION_STAFF] = result.staff_id
    return RedirectResponse("/staff", status_code=303)


@router.post("/staff/logout")
async def logout(request: Request, form: FormDep) -> Response:
    request.session.pop(SESSION_STAFF, None)
    return RedirectResponse("/staff/login", status_code=303)


@router.get("/staff")
async def console(request: Request, staff: StaffMember, idp: IdpDep, q: str = "") -> Response:
    q = q.strip()[:60]
    units = await run_in_threadpool(find_units, idp.db, q=q)
    context = {
        "staff": staff,
        "role": ROLES.get(staff.role, staff.role),
        "q": q,
        "units": units,
        "labels": LABELS,
        "flash": pop_flash(request),
    }
    return render(request, "staff_console.html", context)


async def unit_context(idp: IdpParts, staff: StaffAccount, account_id: str) -> dict[str, Any]:
    found = await run_in_threadpool(unit_record, idp.db, account_id=account_id)
    if found is None:
        raise Refused("未找到该法人账号", status_code=404, back_url="/staff")
    unit = found["unit"]
    return {
        **found,
        "staff": staff,
        "role": ROLES.get(staff.role, staff.role),
        "can_raise": can_raise_level(staff.role),
        "masked_rep_id": mask_id_number(unit.legal_rep_id_number or ""),
        "level": TrustLevel.from_name(unit.trust_level),
        "labels": LABELS,
        "documents": DOCUMENTS,
        "errors": {},
    }


@router.get("/staff/units/{account_id}")
async def unit_page(request: Request, account_id: TokenId, staff: StaffMember, idp: IdpDep) -> Response:
    ctx = await unit_context(idp, staff, account_id)
    return render(request, "staff_unit.html", {**ctx, "flash": pop_flash(request)})


@router.post("/staff/units/{account_id}/hall-check")
async def hall_check(request: Request, account_id: TokenId, form: CsrfForm, staff: HallOfficer, idp: IdpDep) -> Response:
    checked = [d for d in form.getlist("documents") if d in DOCUMENTS]
    note = str(form.get("note", "")).strip()[:200]
    errors = await run_in_threadpool(
        lambda: record_hall_check(idp.db, idp.clock, staff=staff, account_id=account_id, checked=checked, note=note)
    )
    if errors:
        ctx = await unit_context(idp, staff, account_id)
        return render(request, "staff_unit.html", {**ctx, "errors": errors, "flash": None}, status_code=400)
    flash(request, "现场核验已记录，账号可信等级为五级（原L3）。")
    return RedirectResponse(f"/staff/units/{account_id}", status_code=303)
