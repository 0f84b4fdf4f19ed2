"""我的经办人 (a legal person's handlers) and 我经办的法人 (a person's units).

A legal person adds a natural-person account as its handler by the account's
login name, checked against the person's name and ID number (so a typo does
not hand a unit to a stranger). A handler may then log in for that unit; such
logins carry ``act`` = {sub, name} and a level no higher than either side's.
Removing a handler ends its logins for the unit at once (``hooks.acting_level``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import add_handler, find_by_login_name, get_account, handled_by, handlers_of, is_handler, remove_handler
from services.gdzwfw_idp.hooks import acting_level
from services.gdzwfw_idp.login.sessions import current, flash, pop_flash, read_form, switch_identity
from shared.identifiers import IdentifierError, mask_id_number, validate_resident_id
from shared.trust import TrustLevel
from shared.web.app import error_page, render

__all__ = ["handler_router"]


def handler_router() -> APIRouter:
    router = APIRouter()

    def labels() -> dict[str, str]:
        return {lvl.name: lvl.label for lvl in TrustLevel}

    @router.get("/account/handlers", include_in_schema=False)
    async def handlers(request: Request) -> Response:
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)

        def load() -> list:
            if me.account.account_type != "legal_person":
                return []
            with request.app.state.db.transaction() as db:
                rows = handlers_of(db, legal_person_id=me.account.id)
                db.expunge_all()
                return [(r, a, mask_id_number(a.id_number or "")) for r, a in rows]

        rows = await run_in_threadpool(load)
        return render(request, "handlers.html", {"me": me, "account": me.account, "rows": rows, "labels": labels(), "section": "handlers", "errors": {}, "v": {}, "flash": pop_flash(request)})

    @router.post("/account/handlers/add", include_in_schema=False)
    async def handlers_add(request: Request) -> Response:
        form = await read_form(request)
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        if me.acting or me.account.account_type != "legal_person":
            return error_page(request, 403, msg.HANDLER_ONLY_OWN if me.acting else "只有法人账号可以添加经办人", back_url="/account/handlers")
        state = request.app.state
        errors: dict[str, str] = {}
        try:
            id_number = validate_resident_id(form.get("id_number", ""), today=state.clock.now().date())
        except IdentifierError as exc:
            errors["id_number"] = exc.message
            id_number = ""

        def add() -> str | None:
            if errors:
                return None
            with state.db.transaction() as db:
                person = find_by_login_name(db, login_name=form.get("login_name", ""))
                if person is None or person.account_type != "natural_person" or person.status != "active" or person.id_number != id_number or person.person_name != form.get("person_name", ""):
                    errors["login_name"] = msg.HANDLER_NOT_FOUND
                    return None
                unit = get_account(db, account_id=me.account.id)
                if is_handler(db, legal_person_id=unit.id, handler_id=person.id):
                    errors["login_name"] = msg.HANDLER_EXISTS
                    return None
                add_handler(db, legal_person=unit, handler=person, at=state.clock.now())
                return person.person_name

        try:
            added = await run_in_threadpool(add)
        except IntegrityError:
            errors["login_name"] = msg.HANDLER_EXISTS
            added = None
        if errors or not added:
            def load() -> list:
                with state.db.transaction() as db:
                    rows = handlers_of(db, legal_person_id=me.account.id)
                    db.expunge_all()
                    return [(r, a, mask_id_number(a.id_number or "")) for r, a in rows]

            rows = await run_in_threadpool(load)
            values = {k: form.get(k, "") for k in ("login_name", "person_name", "id_number")}
            return render(request, "handlers.html", {"me": me, "account": me.account, "rows": rows, "labels": labels(), "section": "handlers", "errors": errors, "v": values, "flash": None}, status_code=400)
        flash(request, f"已添加经办人：{added}")
        return RedirectResponse("/account/handlers", status_code=303)

    @router.post("/account/handlers/remove", include_in_schema=False)
    async def handlers_remove(request: Request) -> Response:
        form = await read_form(request)
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        if me.acting or me.account.account_type != "legal_person":
            return error_page(request, 403, msg.HANDLER_ONLY_OWN, back_url="/account/handlers")

        def remove() -> bool:
            with request.app.state.db.transaction() as db:
                return remove_handler(db, legal_person_id=me.account.id, handler_id=form.get("handler_id", ""))

        removed = await run_in_threadpool(remove)
        flash(request, "已移除该经办人，其为本单位的登录随即失效。" if removed else "该经办人已不在列表中", "ok" if removed else "error")
        return RedirectResponse("/account/handlers", status_code=303)

    @router.get("/account/handled", include_in_schema=False)
    async def handled(request: Request) -> Response:
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        person_id = me.act["sub"] if me.acting else me.account.id

        def load() -> list:
            with request.app.state.db.transaction() as db:
                person = get_account(db, account_id=person_id)
                if person is None or person.account_type != "natural_person":
                    return []
                rows = [a for _, a in handled_by(db, handler_id=person_id)]
                db.expunge_all()
                return rows

        units = await run_in_threadpool(load)
        return render(request, "handled.html", {"me": me, "account": me.account, "units": units, "labels": labels(), "section": "handled", "flash": pop_flash(request)})

    @router.post("/account/act-as", include_in_schema=False)
    async def act_as(request: Request) -> Response:
        """A handler starts acting for a legal person it handles (same browser login)."""
        form = await read_form(request)
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        person = me.act["sub"] if me.acting else me.account.id

        def check() -> dict | None:
            with request.app.state.db.transaction() as db:
                handler = get_account(db, account_id=person)
                unit = get_account(db, account_id=form.get("legal_person_id", ""))
                if handler is None or handler.account_type != "natural_person" or unit is None or unit.account_type != "legal_person":
                    return None
                act = {"sub": handler.id, "name": handler.person_name}
                return act if acting_level(db, legal_person=unit, act=act) is not None else None

        act = await run_in_threadpool(check)
        if act is None:
            return error_page(request, 403, "您不是该法人的经办人", back_url="/account/handled")
        switch_identity(request, account_id=form["legal_person_id"], act=act)
        return RedirectResponse("/account", status_code=303)

    @router.post("/account/act-as/stop", include_in_schema=False)
    async def act_as_stop(request: Request) -> Response:
        await read_form(request)
        me = await current(request)
        if me is None or not me.acting:
            return RedirectResponse("/account", status_code=303)
        switch_identity(request, account_id=me.act["sub"])
        return RedirectResponse("/account/handled", status_code=303)

    return router
