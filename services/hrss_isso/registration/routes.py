"""个人注册 (both of the seed's 「twoWaysToRegister」), 找回登录账号,
忘记密码 and 单位注册 (1 单位所属实名人员信息 → 2 单位信息 → 3 注册完成)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import ProvincialPerson, get_person, level_label
from services.hrss_isso.deps import PERSON_LOGIN, IssoDep, ProviderDep
from services.hrss_isso.forms import FormRejected, text_of
from services.hrss_isso.login.sessions import start_person_session
from services.hrss_isso.logout import end_person_logins
from services.hrss_isso.models import Unit
from services.hrss_isso.registration.contexts import (
    PERSON_FIELDS,
    UNIT_FIELDS,
    UNIT_STEPS,
    check_registrant,
    common,
    registrant_of,
    secret,
    send_sms,
    submit_unit_info,
    unit_common,
    unit_info_ctx,
)
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.web import client_address, flash, page, sms_response, with_interaction
from shared.clock import Clock
from shared.identifiers import mask_id_number
from shared.randomness import TokenSource
from shared.web.app import render
from shared.web.deps import ClockDep, CsrfForm, DbDep, TokensDep

__all__ = ["router"]

router = APIRouter(prefix="/isso", include_in_schema=False)
# Way 2 of 个人注册: the province's claims wait here for a mobile number and a password.
PROVINCIAL_PERSON_KEY = "fed_person"


# -- 个人注册 ----------------------------------------------------------------
@router.get("/register")
async def ways(request: Request, interaction: str = "") -> Response:
    return render(request, "register_ways.html", {"interaction": interaction})


def person_page(
    services: IssoServices, values: dict[str, str], *, interaction: str, provincial: dict | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        **common(services),
        "values": values,
        "interaction": interaction,
        "action": "/isso/register/provincial" if provincial else "/isso/register/person",
        "provincial": provincial,
        "sms_ok": None,
        "sms_message": "",
        **extra,
    }


@router.get("/register/person")
async def register_person(request: Request, services: IssoDep, interaction: str = "") -> Response:
    return page(request, "register_person.html", person_page(services, {}, interaction=interaction))


@router.post("/register/person")
async def register_person_submit(request: Request, form: CsrfForm, services: IssoDep, clock: ClockDep, tokens: TokensDep) -> Response:
    return await _register(request, form, services, clock, tokens, provincial=None)


def pending_provincial(request: Request) -> dict | None:
    data = request.session.get(PROVINCIAL_PERSON_KEY)
    if not isinstance(data, dict):
        return None
    return {**data, "masked_id": mask_id_number(data["id_number"])}


@router.get("/register/provincial")
async def register_provincial(request: Request, services: IssoDep, interaction: str = "") -> Response:
    provincial = pending_provincial(request)
    if provincial is None:
        return RedirectResponse("/isso/register", status_code=303)
    return page(request, "register_person.html", person_page(services, {}, interaction=interaction, provincial=provincial))


@router.post("/register/provincial")
async def register_provincial_submit(request: Request, form: CsrfForm, services: IssoDep, clock: ClockDep, tokens: TokensDep) -> Response:
    provincial = pending_provincial(request)
    if provincial is None:
        return RedirectResponse("/isso/register", status_code=303)
    return await _register(request, form, services, clock, tokens, provincial=provincial)


async def _register(
    request: Request, form: FormData, services: IssoServices, clock: Clock, tokens: TokenSource, *, provincial: dict | None
) -> Response:
    values = {k: text_of(form, k, 40) for k in PERSON_FIELDS}
    interaction = text_of(form, "interaction", 100)
    if form.get("action") == "send_sms":
        context = person_page(services, values, interaction=interaction, provincial=provincial)
        return await send_sms(
            request, services, mobile=values["mobile"], purpose="register_person", template="register_person.html", context=context
        )
    upstream = None
    if provincial is not None:
        upstream = ProvincialPerson(
            issuer=provincial["iss"],
            subject=provincial["sub"],
            name=provincial["name"],
            id_number=provincial["id_number"],
            acr=provincial["acr"],
        )
    try:
        person = await run_in_threadpool(
            lambda: services.persons.register(
                name=values["name"],
                id_number=values["id_number"],
                mobile=values["mobile"],
                sms_code=values["sms_code"][:10],
                login_name=values["login_name"],
                password=secret(form, "password"),
                password2=secret(form, "password2"),
                provincial=upstream,
            )
        )
    except FormRejected as rejected:
        context = person_page(services, values, interaction=interaction, provincial=provincial)
        return page(request, "register_person.html", context, errors=rejected.errors)
    request.session.pop(PROVINCIAL_PERSON_KEY, None)
    amr = ["pwd", "sms"] if upstream is None else ["fed", "sms"]
    start_person_session(request, person=person, amr=amr, clock=clock, tokens=tokens)
    return RedirectResponse(with_interaction("/isso/register/done", interaction), status_code=303)


@router.get("/register/done")
async def register_done(request: Request, db: DbDep, interaction: str = "") -> Response:
    person_id = request.session.get("person_id")
    if not person_id:
        return RedirectResponse("/isso/register", status_code=303)

    def load():
        with db.transaction() as s:
            person = get_person(s, person_id=person_id)
            s.expunge(person)
            return person

    person = await run_in_threadpool(load)
    context = {"person": person, "level_label": level_label(person.realname_level), "interaction": interaction}
    return render(request, "register_person_done.html", context)


# -- 找回登录账号 ------------------------------------------------------------
@router.get("/find-login-id")
async def find_login(request: Request) -> Response:
    return page(request, "find_login.html", {"values": {}, "found": None, "sms_ok": None, "sms_message": ""})


@router.post("/find-login-id")
async def find_login_submit(request: Request, form: CsrfForm, services: IssoDep) -> Response:
    values = {k: text_of(form, k, 20) for k in ("id_number", "mobile", "sms_code")}
    ctx: dict[str, Any] = {"values": values, "found": None, "sms_ok": None, "sms_message": ""}
    if form.get("action") == "send_sms":
        return await send_sms(
            request, services, mobile=values["mobile"], purpose="find_login_name", template="find_login.html", context=ctx
        )
    try:
        found = await run_in_threadpool(
            lambda: services.persons.find_login_name(
                id_number=values["id_number"], mobile=values["mobile"], sms_code=text_of(form, "sms_code", 10)
            )
        )
    except FormRejected as rejected:
        return page(request, "find_login.html", ctx, errors=rejected.errors)
    return page(request, "find_login.html", {**ctx, "found": found})


# -- 忘记密码 ----------------------------------------------------------------
@router.get("/forgot-password")
async def forgot(request: Request, services: IssoDep) -> Response:
    return page(request, "forgot_password.html", {**common(services), "step": 1, "values": {}})


@router.post("/forgot-password")
async def forgot_submit(request: Request, form: CsrfForm, services: IssoDep) -> Response:
    values = {"login_name": text_of(form, "login_name", 40), "id_number": text_of(form, "id_number", 20)}
    try:
        person_id, masked = await run_in_threadpool(
            lambda: services.persons.start_reset(
                login_name=values["login_name"], id_number=values["id_number"], address=client_address(request)
            )
        )
    except FormRejected as rejected:
        return page(request, "forgot_password.html", {**common(services), "step": 1, "values": values}, errors=rejected.errors)
    request.session["pw_reset"] = {"person_id": person_id, "masked": masked}
    return RedirectResponse("/isso/forgot-password/reset", status_code=303)


@router.get("/forgot-password/reset")
async def reset(request: Request, services: IssoDep) -> Response:
    pending = request.session.get("pw_reset")
    if not pending:
        return RedirectResponse("/isso/forgot-password", status_code=303)
    context = {**common(services), "step": 2, "values": {}, "sent_to": pending["masked"], "sms_ok": None, "sms_message": ""}
    return page(request, "forgot_password.html", context)


@router.post("/forgot-password/reset")
async def reset_submit(request: Request, form: CsrfForm, services: IssoDep, provider: ProviderDep) -> Response:
    pending = request.session.get("pw_reset")
    if not pending:
        return RedirectResponse("/isso/forgot-password", status_code=303)
    ctx = {**common(services), "step": 2, "values": {}, "sent_to": None, "sms_ok": None, "sms_message": ""}
    if form.get("action") == "send_sms":
        result = await run_in_threadpool(
            lambda: services.persons.resend_reset(person_id=pending["person_id"], address=client_address(request))
        )
        return sms_response(request, result, sent_to=pending["masked"], template="forgot_password.html", context=ctx)
    try:
        login_name = await run_in_threadpool(
            lambda: services.persons.finish_reset(
                person_id=pending["person_id"],
                sms_code=text_of(form, "sms_code", 10),
                password=secret(form, "password"),
                password2=secret(form, "password2"),
            )
        )
    except FormRejected as rejected:
        return page(request, "forgot_password.html", ctx, errors=rejected.errors)
    request.session.pop("pw_reset", None)
    await run_in_threadpool(services.person_login.unlock, login_name)
    # Whoever forgot the password may not be the only one who had it: no login of the person survives.
    await run_in_threadpool(lambda: end_person_logins(provider, person_id=pending["person_id"]))
    flash(request, msg.RESET_DONE)
    return RedirectResponse(PERSON_LOGIN, status_code=303)


# -- 单位注册 ----------------------------------------------------------------
@router.get("/register/unit")
async def unit_step1(request: Request, services: IssoDep, restart: str = "") -> Response:
    if restart:
        request.session.pop("unit_reg", None)
    return page(request, "unit_register_step1.html", {**unit_common(services), "values": {}})


@router.post("/register/unit")
async def unit_step1_submit(request: Request, form: CsrfForm, services: IssoDep) -> Response:
    values, person_id, errors = await check_registrant(request, form, services)
    if errors:
        return page(request, "unit_register_step1.html", {**unit_common(services), "values": values}, errors=errors)
    request.session["unit_reg"] = {"person_id": person_id}
    return RedirectResponse("/isso/register/unit/info", status_code=303)


async def registrant(request: Request, db: DbDep) -> dict | None:
    """The person who passed step 1, or None: that step again."""
    person_id = (request.session.get("unit_reg") or {}).get("person_id")
    if not person_id:
        return None
    return await run_in_threadpool(registrant_of, db, person_id)


@router.get("/register/unit/info")
async def unit_step2(request: Request, services: IssoDep, db: DbDep) -> Response:
    who = await registrant(request, db)
    if who is None:
        return RedirectResponse("/isso/register/unit", status_code=303)
    return page(request, "unit_register_step2.html", unit_info_ctx(services, who, {}))


@router.post("/register/unit/info")
async def unit_step2_submit(request: Request, form: CsrfForm, services: IssoDep, db: DbDep) -> Response:
    who = await registrant(request, db)
    if who is None:
        return RedirectResponse("/isso/register/unit", status_code=303)
    values = {k: text_of(form, k, 120) for k in UNIT_FIELDS}

    def done(unit: Unit) -> str:
        request.session["unit_reg"] = {"done": {"unit_code": unit.unit_code, "login_name": unit.login_name, "org_name": unit.org_name}}
        return "/isso/register/unit/done"

    def context(values: dict[str, str], **extra: Any) -> dict[str, Any]:
        return unit_info_ctx(services, who, values, **extra)

    return await submit_unit_info(request, form, services, who=who, values=values, context=context, done=done)


@router.get("/register/unit/done")
async def unit_step3(request: Request) -> Response:
    data = request.session.get("unit_reg") or {}
    if "done" not in data:
        return RedirectResponse("/isso/register/unit", status_code=303)
    return render(request, "unit_register_done.html", {"steps": UNIT_STEPS, "done": data["done"]})


@router.get("/help/realname")
async def help_realname(request: Request) -> Response:
    return render(request, "help_realname.html", {})
