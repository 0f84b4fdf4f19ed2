"""The social-insurance agency's console (社保经办机构): staff log in, review
unit authorisation-code applications with their materials, approve or reject
with a reason, and record window applications (线下申请). Every action is
role-checked in the service layer and written to the audit trail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import forms
from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import LEVEL_LABELS
from services.hrss_isso.accounts.units import SEARCH_FIELDS
from services.hrss_isso.authorisation_codes.applications import CHANNEL_LABELS, REVIEW_ROLE, STATUS_LABELS
from services.hrss_isso.authorisation_codes.materials import MATERIAL_KINDS
from services.hrss_isso.deps import STAFF_HOME, STAFF_LOGIN, IssoDep, ReviewingStaff, ViewingStaff
from services.hrss_isso.forms import FormRejected, text_of
from services.hrss_isso.staff.accounts import get_staff
from services.hrss_isso.web import client_address, flash, page, pop_flash
from shared.password_login import Disabled, LoggedIn, Missing, Outcome, Replayed, Throttled, Wrong
from shared.web.app import error_page, render
from shared.web.deps import ClockDep, CsrfForm, DbDep, Refused
from shared.web.params import TokenId
from shared.web.sessions import rotate_session

__all__ = ["router"]

log = logging.getLogger("isso.staff")
STAFF_KEYS = ("staff_id", "staff_name", "staff_auth_time")
TYPE_LABELS = {"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}

router = APIRouter(prefix="/isso/staff", include_in_schema=False)


def refused_page(refused: forms.Refused) -> Refused:
    """What the service refused, as the console's error page."""
    return Refused(refused.message, status_code=refused.status, back_url=STAFF_HOME)


T = TypeVar("T")


async def _call(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call`` in a worker thread; what the service refuses becomes the console's error page."""
    try:
        return await run_in_threadpool(call, *args, **kwargs)
    except forms.Refused as refused:
        raise refused_page(refused) from None


def login_error(outcome: Outcome, minutes: int, hotline: str) -> str:
    """The console's message for a refused login (password + 动态口令)."""
    match outcome:
        case Missing():
            return msg.STAFF_ENTER_ALL
        case Throttled():
            return msg.ADDRESS_THROTTLED.format(minutes=minutes)
        case Replayed():
            return msg.STAFF_CODE_USED
        case Disabled():
            return msg.ACCOUNT_DISABLED.format(hotline=hotline)
        case Wrong(left=left) if left:
            return msg.STAFF_WRONG.format(left=left)
    return msg.STAFF_LOCKED.format(minutes=minutes)


@router.get("")
@router.get("/")
async def staff_home(request: Request) -> Response:
    return RedirectResponse(STAFF_HOME if request.session.get("staff_id") else STAFF_LOGIN, status_code=303)


@router.get("/login")
async def login(request: Request) -> Response:
    return render(request, "staff_login.html", {"error": None, "login_name": ""})


@router.post("/login")
async def login_submit(request: Request, form: CsrfForm, services: IssoDep, db: DbDep, clock: ClockDep) -> Response:
    login_name = text_of(form, "login_name", 40)
    password = str(form.get("password", ""))[:128]
    code = str(form.get("totp", ""))[:6]
    outcome = await run_in_threadpool(
        lambda: services.staff_login.authenticate(db, login_name=login_name, password=password, code=code, address=client_address(request))
    )
    if not isinstance(outcome, LoggedIn):
        error = login_error(outcome, services.staff_login.window_seconds // 60, services.settings.hotline)
        return render(request, "staff_login.html", {"error": error, "login_name": login_name}, status_code=400)

    def load():
        with db.transaction() as s:
            return get_staff(s, staff_id=outcome.id).name

    name = await run_in_threadpool(load)
    rotate_session(request)
    request.session.update(staff_id=outcome.id, staff_name=name, staff_auth_time=clock.timestamp())
    log.info("staff login", extra={"fields": {"staff": outcome.id}})
    return RedirectResponse(STAFF_HOME, status_code=303)


@router.post("/logout")
async def logout(request: Request, form: CsrfForm) -> Response:
    for key in STAFF_KEYS:
        request.session.pop(key, None)
    return RedirectResponse(STAFF_LOGIN, status_code=303)


@router.get("/applications")
async def applications(request: Request, staff: ViewingStaff, services: IssoDep, db: DbDep, status: str = "submitted") -> Response:
    status = status if status in STATUS_LABELS or status == "all" else "submitted"
    found = await _call(db.detached, services.authorizations.list_for_staff, staff_id=staff.id, status=status)
    return render(
        request,
        "staff_list.html",
        {
            "rows": found,
            "status": status,
            "statuses": {**STATUS_LABELS, "all": "全部"},
            "labels": STATUS_LABELS,
            "channels": CHANNEL_LABELS,
            "flash": pop_flash(request),
        },
    )


async def _detail(
    request: Request,
    services: IssoDep,
    db: DbDep,
    staff_id: str,
    application_id: str,
    *,
    may_review: bool,
    errors: dict | None = None,
    reason: str = "",
    status: int | None = None,
) -> Response:
    found = await _call(db.detached, services.authorizations.detail, staff_id=staff_id, application_id=application_id)
    app, person, unit, materials = found
    return page(
        request,
        "staff_detail.html",
        {
            "app": app,
            "person": person,
            "unit": unit,
            "materials": materials,
            "labels": STATUS_LABELS,
            "channels": CHANNEL_LABELS,
            "kinds": MATERIAL_KINDS,
            "types": TYPE_LABELS,
            "level_names": LEVEL_LABELS,
            "reason": reason,
            "flash": pop_flash(request),
            # Only the actions the role may take: a viewer is never offered a button the server refuses.
            "may_review": may_review,
        },
        errors=errors,
        status=status,
    )


@router.get("/applications/{application_id}")
async def detail(request: Request, application_id: TokenId, staff: ViewingStaff, services: IssoDep, db: DbDep) -> Response:
    return await _detail(request, services, db, staff.id, application_id, may_review=staff.has_role(REVIEW_ROLE))


@router.post("/applications/{application_id}/{action}")
async def review(
    request: Request, application_id: TokenId, action: str, form: CsrfForm, staff: ReviewingStaff, services: IssoDep, db: DbDep
) -> Response:
    authorizations = services.authorizations
    reason = text_of(form, "reason", 400)
    if action == "approve":
        operation, done = (lambda: authorizations.approve(staff_id=staff.id, application_id=application_id)), msg.REVIEW_APPROVED
    elif action == "reject":
        operation, done = (
            (lambda: authorizations.reject(staff_id=staff.id, application_id=application_id, reason=reason)),
            msg.REVIEW_REJECTED,
        )
    else:
        return error_page(request, 404, "您访问的页面不存在")
    try:
        await run_in_threadpool(operation)
    except forms.Refused as refused:
        if refused.status == 409:
            return await _detail(request, services, db, staff.id, application_id, may_review=True, errors={"": refused.message}, status=409)
        raise refused_page(refused) from None
    except FormRejected as rejected:
        return await _detail(request, services, db, staff.id, application_id, may_review=True, errors=rejected.errors, reason=reason)
    log.info("authorisation application reviewed", extra={"fields": {"action": action}})
    flash(request, done)
    return RedirectResponse(f"/isso/staff/applications/{application_id}", status_code=303)


@router.get("/materials/{material_id}")
async def material(request: Request, material_id: TokenId, staff: ViewingStaff, services: IssoDep) -> Response:
    try:
        found, data = await _call(services.authorizations.material, staff_id=staff.id, material_id=material_id)
    except FileNotFoundError:
        return error_page(request, 404, "材料文件不存在")
    return Response(
        data,
        media_type=found.content_type,
        headers={
            # Never rendered inline from our origin: downloaded, not sniffed.
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.original_name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


def window_ctx(values: dict) -> dict:
    return {"values": values, "search_fields": SEARCH_FIELDS, "kinds": MATERIAL_KINDS}


@router.get("/window")
async def window(request: Request, staff: ViewingStaff) -> Response:
    # Recording needs the review role: a viewer is told so instead of being given a form the server refuses.
    context = {
        **window_ctx({"unit_field": "unit_code", "checked": []}),
        "flash": pop_flash(request),
        "may_review": staff.has_role(REVIEW_ROLE),
    }
    return page(request, "staff_window.html", context)


@router.post("/window")
async def window_submit(request: Request, form: CsrfForm, staff: ReviewingStaff, services: IssoDep) -> Response:
    values = {
        "id_number": text_of(form, "id_number", 20),
        "unit_field": text_of(form, "unit_field", 20),
        "unit_value": text_of(form, "unit_value", 30),
        "checked": [v for v in form.getlist("checked") if isinstance(v, str)],
    }
    try:
        application_id = await _call(
            services.authorizations.window,
            staff_id=staff.id,
            id_number=values["id_number"],
            unit_field=values["unit_field"],
            unit_value=values["unit_value"],
            checked=set(values["checked"]),
        )
    except FormRejected as rejected:
        return page(request, "staff_window.html", {**window_ctx(values), "may_review": True}, errors=rejected.errors)
    flash(request, "已登记线下申请，授权码已通过短信发送给经办人")
    return RedirectResponse(f"/isso/staff/applications/{application_id}", status_code=303)
