"""我的经办人 (a legal person's handlers) and 我经办的法人 (a person's units).

A handler may log in for a unit it handles; such logins carry ``act`` =
{sub, name} and a level no higher than either side's. Removing a handler ends
its logins for the unit at once (``hooks.acting_level``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import ActingHandler, FormDep, HandlersOwner, HandlersRemover, IdpDep, LoggedIn
from services.gdzwfw_idp.flash import flash, pop_flash
from services.gdzwfw_idp.handlers.relations import act_for, add_handler_by_identity, handler_rows, remove, units_handled_by
from services.gdzwfw_idp.login.sessions import Current, switch_identity
from services.gdzwfw_idp.parts import IdpParts
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.deps import Refused

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LABELS = {lvl.name: lvl.label for lvl in TrustLevel}


async def handlers_page(
    request: Request, idp: IdpParts, me: Current, *, errors: dict[str, str], values: dict[str, str], status_code: int = 200
) -> Response:
    rows = await run_in_threadpool(handler_rows, idp.db, legal_person_id=me.account.id) if me.account.account_type == "legal_person" else []
    context = {"me": me, "account": me.account, "rows": rows, "labels": LABELS, "section": "handlers", "errors": errors, "v": values}
    return render(request, "handlers.html", {**context, "flash": pop_flash(request) if not errors else None}, status_code=status_code)


@router.get("/account/handlers")
async def handlers(request: Request, me: LoggedIn, idp: IdpDep) -> Response:
    return await handlers_page(request, idp, me, errors={}, values={})


@router.post("/account/handlers/add")
async def handlers_add(request: Request, form: FormDep, me: HandlersOwner, idp: IdpDep) -> Response:
    values = {k: form.get(k, "") for k in ("login_name", "person_name", "id_number")}
    added, errors = await run_in_threadpool(lambda: add_handler_by_identity(idp.db, idp.clock, legal_person_id=me.account.id, **values))
    if errors or not added:
        return await handlers_page(request, idp, me, errors=errors, values=values, status_code=400)
    flash(request, f"已添加经办人：{added}")
    return RedirectResponse("/account/handlers", status_code=303)


@router.post("/account/handlers/remove")
async def handlers_remove(request: Request, form: FormDep, me: HandlersRemover, idp: IdpDep) -> Response:
    removed = await run_in_threadpool(lambda: remove(idp.db, legal_person_id=me.account.id, handler_id=form.get("handler_id", "")))
    flash(request, "已移除该经办人，其为本单位的登录随即失效。" if removed else "该经办人已不在列表中", "ok" if removed else "error")
    return RedirectResponse("/account/handlers", status_code=303)


@router.get("/account/handled")
async def handled(request: Request, me: LoggedIn, idp: IdpDep) -> Response:
    person_id = me.act["sub"] if me.act else me.account.id
    units = await run_in_threadpool(units_handled_by, idp.db, person_id=person_id)
    context = {"me": me, "account": me.account, "units": units, "labels": LABELS, "section": "handled", "flash": pop_flash(request)}
    return render(request, "handled.html", context)


@router.post("/account/act-as")
async def act_as(request: Request, form: FormDep, me: LoggedIn, idp: IdpDep) -> Response:
    """A handler starts acting for a legal person it handles (same browser login)."""
    person_id = me.act["sub"] if me.act else me.account.id
    unit_id = form.get("legal_person_id", "")
    act = await run_in_threadpool(lambda: act_for(idp.db, person_id=person_id, legal_person_id=unit_id))
    if act is None:
        raise Refused("您不是该法人的经办人", back_url="/account/handled")
    switch_identity(request, idp, account_id=unit_id, act=act)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/act-as/stop")
async def act_as_stop(request: Request, form: FormDep, me: ActingHandler, idp: IdpDep) -> Response:
    switch_identity(request, idp, account_id=me.act["sub"])  # type: ignore[index]
    return RedirectResponse("/account/handled", status_code=303)
