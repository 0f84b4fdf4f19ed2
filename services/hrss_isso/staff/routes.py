"""The social-insurance agency's console (社保经办机构): staff log in, review
unit authorisation-code applications with their materials, approve or reject
with a reason, and record window applications (线下申请). Every action is
role-checked in the service layer and written to the audit trail."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.accounts.persons import LEVEL_LABELS
from services.hrss_isso.accounts.units import SEARCH_FIELDS
from services.hrss_isso.authorisation_codes.applications import CHANNEL_LABELS, STATUS_LABELS
from services.hrss_isso.authorisation_codes.materials import MATERIAL_KINDS
from services.hrss_isso.forms import FormRejected, Refused, text_of
from services.hrss_isso.staff.accounts import get_staff
from services.hrss_isso.web import client_address, flash, isso, page, pop_flash
from shared.web.app import error_page, render
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = ["staff_router"]

log = logging.getLogger("isso.staff")
STAFF_KEYS = ("staff_id", "staff_name", "staff_auth_time")
TYPE_LABELS = {"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}


def staff_router() -> APIRouter:
    router = APIRouter(prefix="/isso/staff")

    def to_login() -> RedirectResponse:
        return RedirectResponse("/isso/staff/login", status_code=303)

    def refused_page(request: Request, refused: Refused) -> Response:
        return error_page(request, refused.status, refused.message, back_url="/isso/staff/applications")

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    async def staff_home(request: Request) -> Response:
        return RedirectResponse("/isso/staff/applications" if request.session.get("staff_id") else "/isso/staff/login", status_code=303)

    @router.get("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        return render(request, "staff_login.html", {"error": None, "login_name": ""})

    @router.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        login_name = text_of(form, "login_name", 40)
        password = str(form.get("password", ""))[:128]
        services = isso(request)
        result = await run_in_threadpool(
            lambda: services.staff_login.authenticate(request.app.state.db, login_name=login_name, password=password, address=client_address(request))
        )
        if result.error:
            return render(request, "staff_login.html", {"error": result.error, "login_name": login_name}, status_code=400)

        def load():
            with request.app.state.db.transaction() as db:
                return get_staff(db, staff_id=result.account_id).name

        name = await run_in_threadpool(load)
        rotate_session(request)
        request.session.update(staff_id=result.account_id, staff_name=name, staff_auth_time=request.app.state.clock.timestamp())
        log.info("staff login", extra={"fields": {"staff": result.account_id}})
        return RedirectResponse("/isso/staff/applications", status_code=303)

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await verify_csrf_form(request)
        for key in STAFF_KEYS:
            request.session.pop(key, None)
        return to_login()

    @router.get("/applications", include_in_schema=False)
    async def applications(request: Request, status: str = "submitted") -> Response:
        staff_id = request.session.get("staff_id")
        if not staff_id:
            return to_login()
        services = isso(request)
        status = status if status in STATUS_LABELS or status == "all" else "submitted"

        def rows():
            with request.app.state.db.transaction() as db:
                found = services.authorizations.list_for_staff(db, staff_id=staff_id, status=status)
                db.expunge_all()
                return found

        try:
            found = await run_in_threadpool(rows)
        except Refused as refused:
            return refused_page(request, refused)
        return render(
            request,
            "staff_list.html",
            {"rows": found, "status": status, "statuses": {**STATUS_LABELS, "all": "全部"}, "labels": STATUS_LABELS, "channels": CHANNEL_LABELS, "flash": pop_flash(request)},
        )

    async def _detail(request: Request, staff_id: str, application_id: str, *, errors: dict | None = None, reason: str = "", status: int | None = None) -> Response:
        services = isso(request)

        def load():
            with request.app.state.db.transaction() as db:
                found = services.authorizations.detail(db, staff_id=staff_id, application_id=application_id)
                db.expunge_all()
                return found

        try:
            app, person, unit, materials = await run_in_threadpool(load)
        except Refused as refused:
            return refused_page(request, refused)
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
            },
            errors=errors,
            status=status,
        )

    @router.get("/applications/{application_id}", include_in_schema=False)
    async def detail(request: Request, application_id: str) -> Response:
        staff_id = request.session.get("staff_id")
        if not staff_id:
            return to_login()
        return await _detail(request, staff_id, application_id)

    @router.post("/applications/{application_id}/{action}", include_in_schema=False)
    async def review(request: Request, application_id: str, action: str) -> Response:
        form = await verify_csrf_form(request)
        staff_id = request.session.get("staff_id")
        if not staff_id:
            return to_login()
        authorizations = isso(request).authorizations
        reason = text_of(form, "reason", 400)
        if action == "approve":
            operation, done = (lambda: authorizations.approve(staff_id=staff_id, application_id=application_id)), "已审核通过，授权码已通过短信发送给经办人"
        elif action == "reject":
            operation, done = (lambda: authorizations.reject(staff_id=staff_id, application_id=application_id, reason=reason)), "已驳回，驳回原因已通过短信通知经办人"
        else:
            return error_page(request, 404, "您访问的页面不存在")
        try:
            await run_in_threadpool(operation)
        except Refused as refused:
            if refused.status == 409:
                return await _detail(request, staff_id, application_id, errors={"": refused.message}, status=409)
            return refused_page(request, refused)
        except FormRejected as rejected:
            return await _detail(request, staff_id, application_id, errors=rejected.errors, reason=reason)
        log.info("authorisation application reviewed", extra={"fields": {"action": action}})
        flash(request, done)
        return RedirectResponse(f"/isso/staff/applications/{application_id}", status_code=303)

    @router.get("/materials/{material_id}", include_in_schema=False)
    async def material(request: Request, material_id: str) -> Response:
        staff_id = request.session.get("staff_id")
        if not staff_id:
            return to_login()
        try:
            found, data = await run_in_threadpool(lambda: isso(request).authorizations.material(staff_id=staff_id, material_id=material_id))
        except Refused as refused:
            return refused_page(request, refused)
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

    @router.get("/window", include_in_schema=False)
    async def window(request: Request) -> Response:
        if not request.session.get("staff_id"):
            return to_login()
        return page(request, "staff_window.html", {**window_ctx({"unit_field": "unit_code", "checked": []}), "flash": pop_flash(request)})

    @router.post("/window", include_in_schema=False)
    async def window_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        staff_id = request.session.get("staff_id")
        if not staff_id:
            return to_login()
        values = {
            "id_number": text_of(form, "id_number", 20),
            "unit_field": text_of(form, "unit_field", 20),
            "unit_value": text_of(form, "unit_value", 30),
            "checked": [v for v in form.getlist("checked") if isinstance(v, str)],
        }
        try:
            application_id = await run_in_threadpool(
                lambda: isso(request).authorizations.window(
                    staff_id=staff_id, id_number=values["id_number"], unit_field=values["unit_field"], unit_value=values["unit_value"], checked=set(values["checked"])
                )
            )
        except Refused as refused:
            return refused_page(request, refused)
        except FormRejected as rejected:
            return page(request, "staff_window.html", window_ctx(values), errors=rejected.errors)
        flash(request, "已登记线下申请，授权码已通过短信发送给经办人")
        return RedirectResponse(f"/isso/staff/applications/{application_id}", status_code=303)

    return router
