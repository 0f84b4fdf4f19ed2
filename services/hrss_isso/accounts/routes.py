"""账户管理 (个人实名认证, 父账号信息, 子账号信息) and 实名认证
(申请单位授权码, 授权码实名, 申请记录) — the seed's part 二 (一) 3."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.bindings import STATUS_LABELS, active_binding, bindings_of_person, bindings_of_unit
from services.hrss_isso.accounts.persons import LEVEL_LABELS, level_label
from services.hrss_isso.accounts.units import SEARCH_FIELDS
from services.hrss_isso.authorisation_codes.applications import CHANNEL_LABELS, code_state
from services.hrss_isso.authorisation_codes.materials import MATERIAL_KINDS, BodyTooLarge, limited_request, size_label
from services.hrss_isso.forms import FormRejected, Refused, text_of
from services.hrss_isso.models import RealnameChange
from services.hrss_isso.web import flash, isso, load_person, load_unit, page, pop_flash
from shared.identifiers import mask_id_number
from shared.sms import mask_mobile
from shared.web.app import error_page, render
from shared.web.csrf import verify_csrf_form

__all__ = ["account_router"]


def account_router() -> APIRouter:
    router = APIRouter(prefix="/isso")

    def person_login_page() -> RedirectResponse:
        return RedirectResponse("/isso/login?tab=personal&method=password", status_code=303)

    async def unit_account(request: Request):
        """The unit logged in with its own account (not a handler, not federated)."""
        session = request.session
        if session.get("idp") != "hrss" or session.get("act") or session.get("person_id"):
            return None
        return await load_unit(request)

    # -- 个人实名认证 ------------------------------------------------------------
    @router.get("/account", include_in_schema=False)
    async def profile(request: Request) -> Response:
        person = await load_person(request)
        if person is None:
            if await unit_account(request) is not None:
                return RedirectResponse("/isso/account/sub-accounts", status_code=303)
            return person_login_page()
        return await _profile(request, person, values={}, errors=None)

    async def _profile(request: Request, person, *, values: dict, errors: dict | None) -> Response:
        def changes():
            with request.app.state.db.transaction() as db:
                rows = list(db.execute(select(RealnameChange).where(RealnameChange.person_id == person.id).order_by(RealnameChange.id.desc())).scalars())
                db.expunge_all()
                return rows

        return page(
            request,
            "account_profile.html",
            {
                "person": person,
                "masked_id": mask_id_number(person.id_number),
                "masked_mobile": mask_mobile(person.mobile),
                "level_label": level_label(person.realname_level),
                "level_names": LEVEL_LABELS,
                "changes": await run_in_threadpool(changes),
                "values": values,
                "flash": pop_flash(request),
            },
            errors=errors,
        )

    @router.post("/account/realname", include_in_schema=False)
    async def realname_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        person = await load_person(request)
        if person is None:
            return person_login_page()
        values = {"valid_until": text_of(form, "valid_until", 20), "long_term": bool(form.get("long_term"))}
        services = isso(request)
        try:
            await run_in_threadpool(lambda: services.persons.verify_realname(person_id=person.id, valid_until=values["valid_until"], long_term=values["long_term"]))
        except FormRejected as rejected:
            return await _profile(request, person, values=values, errors=rejected.errors)
        flash(request, msg.REALNAME_DONE)
        return RedirectResponse("/isso/account", status_code=303)

    # -- 父账号信息 (the handler's side) -------------------------------------------
    @router.get("/account/parent-accounts", include_in_schema=False)
    async def parent_accounts(request: Request) -> Response:
        person = await load_person(request)
        if person is None:
            return person_login_page()
        return await _parent(request, person, errors=None)

    async def _parent(request: Request, person, *, errors: dict | None, status: int | None = None) -> Response:
        def rows():
            with request.app.state.db.transaction() as db:
                found = bindings_of_person(db, person_id=person.id)
                db.expunge_all()
                return found

        return page(request, "account_parent.html", {"rows": await run_in_threadpool(rows), "labels": STATUS_LABELS, "flash": pop_flash(request)}, errors=errors, status=status)

    @router.post("/account/parent-accounts/{binding_id}/{action}", include_in_schema=False)
    async def parent_action(request: Request, binding_id: int, action: str) -> Response:
        await verify_csrf_form(request)
        person = await load_person(request)
        if person is None:
            return person_login_page()
        bindings = isso(request).bindings
        operations = {
            "accept": (lambda: bindings.accept(person_id=person.id, binding_id=binding_id), msg.BINDING_ACCEPTED),
            "decline": (lambda: bindings.decline(person_id=person.id, binding_id=binding_id), msg.BINDING_DECLINED),
            "unbind": (lambda: bindings.end(owner=("person", person.id), binding_id=binding_id), msg.BINDING_ENDED),
        }
        if action not in operations:
            return error_page(request, 404, "您访问的页面不存在")
        operation, done = operations[action]
        try:
            await run_in_threadpool(operation)
        except Refused as refused:
            return await _parent(request, person, errors={"": refused.message}, status=refused.status)
        flash(request, done)
        return RedirectResponse("/isso/account/parent-accounts", status_code=303)

    # -- 子账号信息 (the unit's side) ---------------------------------------------
    @router.get("/account/sub-accounts", include_in_schema=False)
    async def sub_accounts(request: Request) -> Response:
        unit = await unit_account(request)
        if unit is None:
            return RedirectResponse("/isso/login?tab=unit&method=password", status_code=303)
        return await _sub(request, unit, values={}, errors=None)

    async def _sub(request: Request, unit, *, values: dict, errors: dict | None, status: int | None = None) -> Response:
        def rows():
            with request.app.state.db.transaction() as db:
                found = bindings_of_unit(db, unit_id=unit.id)
                db.expunge_all()
                return found

        return page(
            request,
            "account_sub.html",
            {
                "unit": unit,
                "rows": await run_in_threadpool(rows),
                "labels": STATUS_LABELS,
                "level_names": LEVEL_LABELS,
                "mask": mask_id_number,
                "values": values,
                "flash": pop_flash(request),
            },
            errors=errors,
            status=status,
        )

    @router.post("/account/sub-accounts", include_in_schema=False)
    async def sub_accounts_add(request: Request) -> Response:
        form = await verify_csrf_form(request)
        unit = await unit_account(request)
        if unit is None:
            return RedirectResponse("/isso/login?tab=unit&method=password", status_code=303)
        values = {"handler_login_name": text_of(form, "handler_login_name", 40), "handler_id_number": text_of(form, "handler_id_number", 20)}
        try:
            await run_in_threadpool(
                lambda: isso(request).bindings.request(unit_id=unit.id, login_name=values["handler_login_name"], id_number=values["handler_id_number"])
            )
        except FormRejected as rejected:
            return await _sub(request, unit, values=values, errors=rejected.errors)
        flash(request, msg.BINDING_REQUESTED)
        return RedirectResponse("/isso/account/sub-accounts", status_code=303)

    @router.post("/account/sub-accounts/{binding_id}/{action}", include_in_schema=False)
    async def sub_action(request: Request, binding_id: int, action: str) -> Response:
        await verify_csrf_form(request)
        unit = await unit_account(request)
        if unit is None:
            return RedirectResponse("/isso/login?tab=unit&method=password", status_code=303)
        bindings = isso(request).bindings
        operations = {
            "withdraw": (lambda: bindings.withdraw(unit_id=unit.id, binding_id=binding_id), msg.BINDING_WITHDRAW_DONE),
            "unbind": (lambda: bindings.end(owner=("unit", unit.id), binding_id=binding_id), msg.BINDING_ENDED),
        }
        if action not in operations:
            return error_page(request, 404, "您访问的页面不存在")
        operation, done = operations[action]
        try:
            await run_in_threadpool(operation)
        except Refused as refused:
            return await _sub(request, unit, values={}, errors={"": refused.message}, status=refused.status)
        flash(request, done)
        return RedirectResponse("/isso/account/sub-accounts", status_code=303)

    # -- 实名认证: 申请单位授权码 ---------------------------------------------------
    @router.get("/realname", include_in_schema=False)
    async def realname(request: Request) -> Response:
        return RedirectResponse("/isso/realname/apply", status_code=303)

    async def _apply_page(request: Request, person, *, field: str, q: str, ticked: set[str], errors: dict | None, status: int | None = None) -> Response:
        services = isso(request)

        def candidates():
            with request.app.state.db.transaction() as db:
                found = services.authorizations.candidates(db, person_id=person.id, field=field, value=q)
                db.expunge_all()
                return found

        return page(
            request,
            "realname_apply.html",
            {
                "candidates": await run_in_threadpool(candidates),
                "search_fields": SEARCH_FIELDS,
                "field": field,
                "q": q,
                "ticked": ticked,
                "kinds": MATERIAL_KINDS,
                "max_size": size_label(services.settings.upload_max_bytes),
                "flash": pop_flash(request),
            },
            errors=errors,
            status=status,
        )

    @router.get("/realname/apply", include_in_schema=False)
    async def apply(request: Request, field: str = "unit_code", q: str = "") -> Response:
        person = await load_person(request)
        if person is None:
            return person_login_page()
        field = field if field in SEARCH_FIELDS else "unit_code"
        return await _apply_page(request, person, field=field, q=q[:20], ticked=set(), errors=None)

    @router.post("/realname/apply", include_in_schema=False)
    async def apply_submit(request: Request) -> Response:
        services = isso(request)
        limit = 3 * services.settings.upload_max_bytes + 256 * 1024
        person = await load_person(request)
        try:
            request = await limited_request(request, limit)
        except BodyTooLarge:
            if person is None:
                return person_login_page()
            too_large = msg.UPLOAD_BODY_TOO_LARGE.format(size=size_label(services.settings.upload_max_bytes))
            return await _apply_page(request, person, field="unit_code", q="", ticked=set(), errors={"": too_large}, status=413)
        try:
            form = await verify_csrf_form(request)
            if person is None:
                return person_login_page()
            unit_ids = [v for v in form.getlist("unit_id") if isinstance(v, str)][:50]
            files: dict[str, tuple[str | None, bytes]] = {}
            for kind in MATERIAL_KINDS:
                upload = form.get(kind)
                if upload is not None and not isinstance(upload, str):
                    files[kind] = (upload.filename, await upload.read(services.settings.upload_max_bytes + 1))
        finally:
            # The parser's spooled temporary files go now, not at garbage collection.
            await request.close()
        try:
            await run_in_threadpool(lambda: services.authorizations.apply(person_id=person.id, unit_ids=unit_ids, files=files))
        except FormRejected as rejected:
            return await _apply_page(request, person, field="unit_code", q="", ticked=set(unit_ids), errors=rejected.errors)
        flash(request, msg.APPLICATION_SUBMITTED)
        return RedirectResponse("/isso/realname/applications", status_code=303)

    @router.get("/realname/applications", include_in_schema=False)
    async def applications(request: Request) -> Response:
        person = await load_person(request)
        if person is None:
            return person_login_page()
        services = isso(request)

        def rows():
            with request.app.state.db.transaction() as db:
                found = services.authorizations.applications_of_person(db, person_id=person.id)
                db.expunge_all()
                return found

        now = request.app.state.clock.now()
        return render(
            request,
            "realname_applications.html",
            {"rows": await run_in_threadpool(rows), "channels": CHANNEL_LABELS, "state": lambda a: code_state(a, now), "flash": pop_flash(request)},
        )

    # -- 授权码实名 ----------------------------------------------------------------
    async def _code_page(request: Request, *, errors: dict | None = None) -> Response:
        unit = await load_unit(request) if request.session.get("act") else None
        authorized = False
        if unit is not None:
            person_id = request.session["person_id"]

            def check() -> bool:
                with request.app.state.db.transaction() as db:
                    binding = active_binding(db, unit_id=unit.id, person_id=person_id)
                    return binding is not None and binding.authorized_at is not None

            authorized = await run_in_threadpool(check)
        ctx: dict[str, Any] = {"unit": unit, "authorized": authorized, "needs_unit": msg.CODE_NEEDS_UNIT, "flash": pop_flash(request)}
        return page(request, "realname_code.html", ctx, errors=errors)

    @router.get("/realname/code", include_in_schema=False)
    async def code(request: Request) -> Response:
        if await load_person(request) is None:
            return person_login_page()
        return await _code_page(request)

    @router.post("/realname/code", include_in_schema=False)
    async def code_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        person = await load_person(request)
        if person is None:
            return person_login_page()
        unit_id = request.session.get("unit_id") if request.session.get("act") else None
        if not unit_id:
            return await _code_page(request, errors={"": msg.CODE_NEEDS_UNIT})
        try:
            await run_in_threadpool(lambda: isso(request).authorizations.enter_code(person_id=person.id, unit_id=unit_id, code=text_of(form, "code", 40)))
        except FormRejected as rejected:
            return await _code_page(request, errors=rejected.errors)
        flash(request, msg.CODE_DONE)
        return RedirectResponse("/isso/realname/code", status_code=303)

    return router
