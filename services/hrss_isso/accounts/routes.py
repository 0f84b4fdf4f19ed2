"""账户管理 (个人实名认证, 父账号信息, 子账号信息) — the seed's part 二 (一) 3."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import forms
from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.bindings import STATUS_LABELS, bindings_of_person, bindings_of_unit
from services.hrss_isso.accounts.persons import LEVEL_LABELS, level_label, realname_changes
from services.hrss_isso.deps import PERSON_LOGIN, CurrentPerson, IssoDep, PersonDep, UnitAccount, UnitAccountDep
from services.hrss_isso.forms import FormRejected, text_of
from services.hrss_isso.models import Person, Unit
from services.hrss_isso.web import flash, page, pop_flash
from shared.identifiers import mask_id_number
from shared.sms import mask_mobile
from shared.web.app import error_page
from shared.web.deps import CsrfForm, DbDep, Redirect
from shared.web.params import DbId

__all__ = ["router"]

router = APIRouter(prefix="/isso/account", include_in_schema=False)


# -- 个人实名认证 ------------------------------------------------------------
@router.get("")
async def profile(request: Request, person: CurrentPerson, unit: UnitAccount, db: DbDep) -> Response:
    if person is None:
        if unit is not None:
            return RedirectResponse("/isso/account/sub-accounts", status_code=303)
        raise Redirect(PERSON_LOGIN)
    return await _profile(request, db, person, values={}, errors=None)


async def _profile(request: Request, db: DbDep, person: Person, *, values: dict, errors: dict | None) -> Response:
    return page(
        request,
        "account_profile.html",
        {
            "person": person,
            "masked_id": mask_id_number(person.id_number),
            "masked_mobile": mask_mobile(person.mobile),
            "level_label": level_label(person.realname_level),
            "level_names": LEVEL_LABELS,
            "changes": await run_in_threadpool(db.detached, realname_changes, person_id=person.id),
            "values": values,
            "flash": pop_flash(request),
        },
        errors=errors,
    )


@router.post("/realname")
async def realname_submit(request: Request, form: CsrfForm, person: PersonDep, services: IssoDep, db: DbDep) -> Response:
    values = {"valid_until": text_of(form, "valid_until", 20), "long_term": bool(form.get("long_term"))}
    try:
        await run_in_threadpool(
            lambda: services.persons.verify_realname(person_id=person.id, valid_until=values["valid_until"], long_term=values["long_term"])
        )
    except FormRejected as rejected:
        return await _profile(request, db, person, values=values, errors=rejected.errors)
    flash(request, msg.REALNAME_DONE)
    return RedirectResponse("/isso/account", status_code=303)


# -- 父账号信息 (the handler's side) -------------------------------------------
@router.get("/parent-accounts")
async def parent_accounts(request: Request, person: PersonDep, db: DbDep) -> Response:
    return await _parent(request, db, person, errors=None)


async def _parent(request: Request, db: DbDep, person: Person, *, errors: dict | None, status: int | None = None) -> Response:
    context = {
        "rows": await run_in_threadpool(db.detached, bindings_of_person, person_id=person.id),
        "labels": STATUS_LABELS,
        "flash": pop_flash(request),
    }
    return page(request, "account_parent.html", context, errors=errors, status=status)


@router.post("/parent-accounts/{binding_id}/{action}")
async def parent_action(
    request: Request, binding_id: DbId, action: str, form: CsrfForm, person: PersonDep, services: IssoDep, db: DbDep
) -> Response:
    bindings = services.bindings
    operations = {
        "accept": (lambda: bindings.accept(person_id=person.id, binding_id=binding_id), msg.BINDING_ACCEPTED),
        "decline": (lambda: bindings.decline(person_id=person.id, binding_id=binding_id), msg.BINDING_DECLINED),
        "unbind": (lambda: bindings.end(owner=("person", person.id), binding_id=binding_id), msg.BINDING_ENDED),
    }

    async def refused_page(refused: forms.Refused) -> Response:
        return await _parent(request, db, person, errors={"": refused.message}, status=refused.status)

    return await _binding_action(request, operations.get(action), back="/isso/account/parent-accounts", refused_page=refused_page)


# -- 子账号信息 (the unit's side) ---------------------------------------------
@router.get("/sub-accounts")
async def sub_accounts(request: Request, unit: UnitAccountDep, db: DbDep) -> Response:
    return await _sub(request, db, unit, values={}, errors=None)


async def _sub(request: Request, db: DbDep, unit: Unit, *, values: dict, errors: dict | None, status: int | None = None) -> Response:
    return page(
        request,
        "account_sub.html",
        {
            "unit": unit,
            "rows": await run_in_threadpool(db.detached, bindings_of_unit, unit_id=unit.id),
            "labels": STATUS_LABELS,
            "level_names": LEVEL_LABELS,
            "mask": mask_id_number,
            "values": values,
            "flash": pop_flash(request),
        },
        errors=errors,
        status=status,
    )


@router.post("/sub-accounts")
async def sub_accounts_add(request: Request, form: CsrfForm, unit: UnitAccountDep, services: IssoDep, db: DbDep) -> Response:
    values = {"handler_login_name": text_of(form, "handler_login_name", 40), "handler_id_number": text_of(form, "handler_id_number", 20)}
    try:
        await run_in_threadpool(
            lambda: services.bindings.request(
                unit_id=unit.id, login_name=values["handler_login_name"], id_number=values["handler_id_number"]
            )
        )
    except FormRejected as rejected:
        return await _sub(request, db, unit, values=values, errors=rejected.errors)
    flash(request, msg.BINDING_REQUESTED)
    return RedirectResponse("/isso/account/sub-accounts", status_code=303)


@router.post("/sub-accounts/{binding_id}/{action}")
async def sub_action(
    request: Request, binding_id: DbId, action: str, form: CsrfForm, unit: UnitAccountDep, services: IssoDep, db: DbDep
) -> Response:
    bindings = services.bindings
    operations = {
        "withdraw": (lambda: bindings.withdraw(unit_id=unit.id, binding_id=binding_id), msg.BINDING_WITHDRAW_DONE),
        "unbind": (lambda: bindings.end(owner=("unit", unit.id), binding_id=binding_id), msg.BINDING_ENDED),
    }

    async def refused_page(refused: forms.Refused) -> Response:
        return await _sub(request, db, unit, values={}, errors={"": refused.message}, status=refused.status)

    return await _binding_action(request, operations.get(action), back="/isso/account/sub-accounts", refused_page=refused_page)


async def _binding_action(
    request: Request,
    operation: tuple[Callable[[], None], str] | None,
    *,
    back: str,
    refused_page: Callable[[forms.Refused], Awaitable[Response]],
) -> Response:
    """A binding's button on either side: its operation, then back to the
    list with what was done, or the list again saying why not. ``None``: the
    path named no button of this side."""
    if operation is None:
        return error_page(request, 404, "您访问的页面不存在")
    run, done = operation
    try:
        await run_in_threadpool(run)
    except forms.Refused as refused:
        return await refused_page(refused)
    flash(request, done)
    return RedirectResponse(back, status_code=303)
