"""What the ISSO's page routers share: who is logged in, the session keys
each kind of login sets, and how a refused form is shown again."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.accounts.persons import get_person
from services.hrss_isso.accounts.units import get_unit
from services.hrss_isso.hooks import LOGIN_KEYS, PERSON_KEYS, session_ended
from services.hrss_isso.models import Person, Unit
from services.hrss_isso.runtime import IssoServices
from shared.sms import SendResult, mask_mobile
from shared.trust import TrustLevel
from shared.web.app import render, wants_json
from shared.web.sessions import rotate_session

__all__ = [
    "isso",
    "client_address",
    "load_person",
    "load_unit",
    "start_person_session",
    "start_unit_session",
    "enter_unit_as_handler",
    "login_redirect",
    "sms_answer",
    "page",
    "with_interaction",
    "flash",
    "pop_flash",
]


def isso(request: Request) -> IssoServices:
    return request.app.state.isso


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def with_interaction(path: str, interaction: str) -> str:
    if not interaction:
        return path
    return f"{path}{'&' if '?' in path else '?'}interaction={interaction}"


async def load_person(request: Request) -> Person | None:
    person_id = request.session.get("person_id")
    if not person_id:
        return None
    session = dict(request.session)

    def load() -> Person | None | bool:
        with request.app.state.db.transaction() as db:
            if session_ended(db, session):
                return False
            person = get_person(db, person_id=person_id)
            if person is not None:
                db.expunge(person)
            return person

    person = await run_in_threadpool(load)
    if person is False:
        # Ended away from this browser (the password was reset since): over here too.
        _clear_logins(request)
        return None
    return person if person is not None and person.status == "active" else None


async def load_unit(request: Request) -> Unit | None:
    unit_id = request.session.get("unit_id")
    if not unit_id:
        return None
    session = dict(request.session)

    def load() -> Unit | None | bool:
        with request.app.state.db.transaction() as db:
            if session_ended(db, session):
                return False
            unit = get_unit(db, unit_id=unit_id)
            if unit is not None:
                db.expunge(unit)
            return unit

    found = await run_in_threadpool(load)
    if found is False:
        # Ended over the back channel (single logout): gone here too.
        _clear_logins(request)
        return None
    return found


def _clear_logins(request: Request) -> None:
    for key in LOGIN_KEYS + PERSON_KEYS:
        request.session.pop(key, None)


def start_person_session(request: Request, *, person: Person, amr: list[str], generation: int | None = None) -> None:
    """A personal login: the handler, not yet acting for any unit.
    ``generation``: the person's login generation read with the password
    that was checked (default: the loaded person's), so a reset made
    meanwhile ends this login too."""
    state = request.app.state
    rotate_session(request)
    _clear_logins(request)
    request.session.update(
        person_id=person.id,
        person_name=person.name,
        person_auth_time=state.clock.timestamp(),
        person_amr=amr,
        person_generation=person.login_generation if generation is None else generation,
        sid=state.tokens.token(16),
    )


def enter_unit_as_handler(request: Request, *, person: Person, unit: Unit, acr: str) -> None:
    """「为选中的单位办理业务」: the handler now acts for ``unit``."""
    session = request.session
    session.update(
        unit_id=unit.id,
        unit_name=unit.org_name,
        auth_time=session.get("person_auth_time"),
        amr=list(session.get("person_amr") or ["pwd"]),
        acr=acr,
        idp="hrss",
        act={"sub": person.id, "name": person.name},
    )
    session.pop("upstream", None)


def start_unit_session(request: Request, *, unit: Unit) -> None:
    """A bare unit-account login: L1 (DESIGN.md § Trust levels)."""
    state = request.app.state
    rotate_session(request)
    _clear_logins(request)
    request.session.update(
        unit_id=unit.id,
        unit_name=unit.org_name,
        auth_time=state.clock.timestamp(),
        amr=["pwd"],
        acr=TrustLevel.L1.acr,
        sid=state.tokens.token(16),
        idp="hrss",
    )


def login_redirect(request: Request, *, tab: str = "personal") -> RedirectResponse:
    return RedirectResponse(f"/isso/login?tab={tab}&method=password", status_code=303)


def sms_answer(request: Request, result: SendResult, mobile: str) -> dict[str, Any] | JSONResponse:
    """The outcome of 获取验证码, for a script (JSON) or for the page."""
    message = f"验证码已发送至{mask_mobile(mobile)}，5分钟内有效" if result.sent else (result.error or "")
    if wants_json(request):
        return JSONResponse({"ok": result.sent, "message": message}, status_code=200 if result.sent else 400)
    return {"sms_ok": result.sent, "sms_message": message}


def page(request: Request, template: str, context: dict[str, Any], *, errors: dict[str, str] | None = None, status: int | None = None) -> Response:
    ctx = {"errors": errors or {}, **context}
    return render(request, template, ctx, status_code=status or (400 if errors else 200))


def flash(request: Request, message: str) -> None:
    """A one-time notice shown by the next page (after a redirect)."""
    request.session["flash"] = message


def pop_flash(request: Request) -> str | None:
    return request.session.pop("flash", None)
