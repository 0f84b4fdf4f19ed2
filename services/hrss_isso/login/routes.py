"""广东人社统一认证 login pages: the home page of a logged-in unit, 单位登录 /
个人登录 with 账号密码 (省统一身份认证 is :mod:`..federation`), and the unit
chooser after a personal login (the seed's part 二 (二))."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.bindings import bindings_of_person, handler_level
from services.hrss_isso.accounts.persons import get_person, level_label
from services.hrss_isso.accounts.units import get_unit
from services.hrss_isso.deps import CurrentPerson, CurrentUnit, IssoDep, ProviderDep
from services.hrss_isso.federation.callback import LINK_PENDING_KEY
from services.hrss_isso.hooks import handler_acr
from services.hrss_isso.login.password_login import password_login
from services.hrss_isso.login.sessions import enter_unit_as_handler, start_person_session, start_unit_session
from services.hrss_isso.models import Person
from services.hrss_isso.web import client_address, flash, parked, required_level, resume_or, with_interaction
from shared.db import Database
from shared.metrics import record_login
from shared.oauth.provider.provider import Provider
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.deps import ClockDep, CsrfForm, DbDep, Redirect, TokensDep

__all__ = ["router"]

log = logging.getLogger("isso.login")
router = APIRouter(prefix="/isso", include_in_schema=False)
TABS = {"unit": "单位登录", "personal": "个人登录"}
UNIT_METHODS = {"gdzwfw": "省统一身份认证", "password": "账号密码"}
PERSONAL_METHODS = {"password": "账号密码", "gdzwfw": "省统一身份认证"}


def pending_link(request: Request) -> dict | None:
    pending = request.session.get(LINK_PENDING_KEY)
    return pending if isinstance(pending, dict) else None


# -- home ----------------------------------------------------------------
@router.get("/")
@router.get("")
async def home(request: Request, unit: CurrentUnit, provider: ProviderDep, db: DbDep) -> Response:
    issuer = provider.config.issuer
    if unit is None:
        if request.session.get("person_id"):
            return RedirectResponse(f"{issuer}/login/units", status_code=303)
        return RedirectResponse(f"{issuer}/login", status_code=303)
    session = request.session
    act = session.get("act") if session.get("idp") == "hrss" else None
    acr = session.get("acr")
    if act:
        acr = await run_in_threadpool(_handler_acr, db, unit.id, act.get("sub", ""))
        if acr is None:
            # The binding ended while this browser was away.
            for key in ("unit_id", "unit_name", "act", "acr"):
                session.pop(key, None)
            flash(request, msg.NOT_BOUND)
            return RedirectResponse(f"{issuer}/login/units", status_code=303)
    level = TrustLevel.from_acr(acr)
    return render(request, "home.html", {"unit": unit, "level": level, "idp": session.get("idp"), "act": act})


def _handler_acr(db: Database, unit_id: str, person_id: str) -> str | None:
    with db.transaction() as s:
        return handler_acr(s, unit_id=unit_id, person_id=person_id)


# -- login ---------------------------------------------------------------
async def login_context(provider: Provider, interaction: str, tab: str, method: str, **extra: Any) -> dict[str, Any]:
    found = await parked(provider, interaction)
    return {
        "interaction": interaction if found else "",
        "client_name": found.client_name if found else None,
        "tab": tab,
        "tabs": TABS,
        "method": method,
        "methods": UNIT_METHODS if tab == "unit" else PERSONAL_METHODS,
        "error": None,
        "notice": None,
        "login_name": "",
        **extra,
    }


@router.get("/login")
async def login_page(request: Request, provider: ProviderDep, interaction: str = "", tab: str = "unit", method: str = "") -> Response:
    tab = tab if tab in TABS else "unit"
    methods = UNIT_METHODS if tab == "unit" else PERSONAL_METHODS
    method = method if method in methods else next(iter(methods))
    ctx = await login_context(provider, interaction, tab, method)
    ctx["notice"] = request.session.pop("flash", None)
    return render(request, "login.html", ctx)


@router.post("/login")
async def login_submit(
    request: Request, form: CsrfForm, provider: ProviderDep, services: IssoDep, db: DbDep, clock: ClockDep, tokens: TokensDep
) -> Response:
    issuer = provider.config.issuer
    interaction = str(form.get("interaction", ""))
    tab = str(form.get("tab", "unit"))
    tab = tab if tab in TABS else "unit"
    login_name = str(form.get("login_name", ""))[:40]
    password = str(form.get("password", ""))[:128]
    service = services.person_login if tab == "personal" else services.unit_login
    result = await run_in_threadpool(
        lambda: password_login(
            service, db, login_name=login_name, password=password, address=client_address(request), hotline=services.settings.hotline
        )
    )
    if result.error or not result.account_id:
        record_login("password", "failure")
        ctx = await login_context(provider, interaction, tab, "password", error=result.error, login_name=login_name)
        return render(request, "login.html", ctx, status_code=400)
    record_login("password", "success")
    found = await parked(provider, interaction)
    interaction = interaction if found else ""

    def load():
        with db.transaction() as s:
            account = get_person(s, person_id=result.account_id) if tab == "personal" else get_unit(s, unit_id=result.account_id)
            s.expunge(account)
            return account

    account = await run_in_threadpool(load)
    if tab == "personal":
        start_person_session(request, person=account, amr=["pwd"], generation=result.generation, clock=clock, tokens=tokens)
        log.info("personal login", extra={"fields": {"method": "password"}})
        return RedirectResponse(with_interaction(f"{issuer}/login/units", interaction), status_code=303)
    start_unit_session(request, unit=account, clock=clock, tokens=tokens)
    log.info("unit login", extra={"fields": {"method": "password"}})
    return resume_or(provider, interaction, f"{issuer}/")


# -- the unit chooser after a personal login ------------------------------
def choices(db: Database, person_id: str) -> tuple[Any, list[dict[str, Any]]]:
    with db.transaction() as s:
        person = get_person(s, person_id=person_id)
        rows = []
        for binding, unit in bindings_of_person(s, person_id=person_id, statuses=("active",)):
            level = handler_level(person, binding)
            rows.append({"unit": unit, "binding": binding, "level": level})
        s.expunge_all()
    return person, rows


async def chooser(
    request: Request, provider: Provider, db: Database, person: Person, interaction: str, *, status_code: int = 200, **extra: Any
) -> Response:
    """The units this handler may act for."""
    person, rows = await run_in_threadpool(choices, db, person.id)
    found = await parked(provider, interaction)
    # The ISSO's own pages (no client waiting) take a unit at any level.
    floor = required_level(found) if found else TrustLevel.L1
    admitted = [row["unit"].id for row in rows if row["level"] >= floor]
    current = extra.pop("current", None)
    # Never preselect a unit the login would be refused for: the first admitted one, or none.
    preselected = current if current in admitted else (admitted[0] if admitted else None)
    context = {
        "person": person,
        "rows": rows,
        "interaction": interaction if found else "",
        "client_name": found.client_name if found else None,
        "level_label": level_label(person.realname_level),
        "button": msg.CHOOSE_UNIT_BUTTON,
        "preselected": preselected,
        "floor": floor,
        # Left by a 省统一身份认证 login of a unit registered the other
        # way: this handler may be the one to confirm the link.
        "link_pending": pending_link(request),
        **extra,
    }
    return render(request, "select_unit.html", context, status_code=status_code)


def require_personal_login(person: Person | None, provider: Provider, interaction: str) -> Person:
    if person is None:
        raise Redirect(with_interaction(f"{provider.config.issuer}/login?tab=personal&method=password", interaction))
    return person


@router.get("/login/units")
async def choose_unit(request: Request, person: CurrentPerson, provider: ProviderDep, db: DbDep, interaction: str = "") -> Response:
    person = require_personal_login(person, provider, interaction)
    return await chooser(
        request, provider, db, person, interaction, current=request.session.get("unit_id"), error=request.session.pop("flash", None)
    )


@router.post("/login/units")
async def choose_unit_submit(request: Request, form: CsrfForm, person: CurrentPerson, provider: ProviderDep, db: DbDep) -> Response:
    interaction = str(form.get("interaction", ""))
    unit_id = str(form.get("unit_id", ""))
    person = require_personal_login(person, provider, interaction)

    def decide():
        with db.transaction() as s:
            acr = handler_acr(s, unit_id=unit_id, person_id=person.id) if unit_id else None
            unit = get_unit(s, unit_id=unit_id) if acr else None
            if unit is not None:
                s.expunge(unit)
            return unit, acr

    unit, acr = await run_in_threadpool(decide)
    if unit is None or unit.status != "active":
        error = msg.NOT_BOUND if unit_id else "请选择要办理业务的单位"
        return await chooser(request, provider, db, person, interaction, status_code=400, current=None, error=error)
    enter_unit_as_handler(request.session, person=person, unit=unit, acr=acr)
    log.info("handler entered unit", extra={"fields": {"acr": acr}})
    return resume_or(provider, interaction if await parked(provider, interaction) else "", f"{provider.config.issuer}/")
