"""个人注册 (both of the seed's 「twoWaysToRegister」), 找回登录账号,
忘记密码 and 单位注册 (1 单位所属实名人员信息 → 2 单位信息 → 3 注册完成)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import ProvincialPerson, get_person, level_label
from services.hrss_isso.accounts.units import CERT_TYPES, LEGAL_REP_ID_TYPE, ProvincialClaims, confirm_provincial_link
from services.hrss_isso.forms import FormRejected, text_of
from services.hrss_isso.logout import end_person_logins
from services.hrss_isso.registration.regions import GUANGDONG_CITIES
from services.hrss_isso.web import client_address, flash, isso, page, sms_answer, start_person_session, with_interaction
from shared.identifiers import mask_id_number
from shared.web.app import render
from shared.web.csrf import verify_csrf_form

__all__ = ["register_router"]

PERSON_FIELDS = ("name", "id_number", "mobile", "login_name", "sms_code")
UNIT_FIELDS = (
    "cert_type",
    "cert_number",
    "org_name",
    "region_code",
    "address",
    "legal_rep_name",
    "legal_rep_id_type",
    "legal_rep_id_number",
    "legal_rep_mobile",
    "login_name",
    "sms_code",
)
UNIT_STEPS = ("单位所属实名人员信息", "单位信息", "注册完成")
# 登录初始化 (part 一 (三)): the callback keeps the verified provincial claims here.
INIT_KEY = "fed_init"
INIT_DONE_KEY = "fed_init_done"
# A unit registered the other way: the claims wait for a handler's confirmation.
LINK_PENDING_KEY = "fed_link_pending"


def _secret(form, name: str) -> str:
    value = form.get(name)
    return value[:64] if isinstance(value, str) else ""


def register_router() -> APIRouter:
    router = APIRouter(prefix="/isso")

    def password_hint(request: Request) -> str:
        n = isso(request).settings.password_max_keyboard_run
        return f"8-30位，须包含大写字母、小写字母、数字中至少3种，且不能在键盘上连续超过{n}个字符"

    def common(request: Request) -> dict[str, Any]:
        return {"password_hint": password_hint(request), "max_run": isso(request).settings.password_max_keyboard_run}

    async def send_sms(request: Request, *, mobile: str, purpose: str) -> dict[str, Any] | JSONResponse:
        services = isso(request)
        result = await run_in_threadpool(lambda: services.persons.send_code(mobile=mobile, purpose=purpose, address=client_address(request)))
        return sms_answer(request, result, mobile)

    # -- 个人注册 ----------------------------------------------------------------
    @router.get("/register", include_in_schema=False)
    async def ways(request: Request, interaction: str = "") -> Response:
        return render(request, "register_ways.html", {"interaction": interaction})

    def person_page(request: Request, values: dict[str, str], *, interaction: str, provincial: dict | None = None, **extra: Any) -> dict[str, Any]:
        return {
            **common(request),
            "values": values,
            "interaction": interaction,
            "action": "/isso/register/provincial" if provincial else "/isso/register/person",
            "provincial": provincial,
            "sms_ok": None,
            "sms_message": "",
            **extra,
        }

    @router.get("/register/person", include_in_schema=False)
    async def register_person(request: Request, interaction: str = "") -> Response:
        return page(request, "register_person.html", person_page(request, {}, interaction=interaction))

    @router.post("/register/person", include_in_schema=False)
    async def register_person_submit(request: Request) -> Response:
        return await _register(request, provincial=None)

    def pending_provincial(request: Request) -> dict | None:
        data = request.session.get("fed_person")
        if not isinstance(data, dict):
            return None
        return {**data, "masked_id": mask_id_number(data["id_number"])}

    @router.get("/register/provincial", include_in_schema=False)
    async def register_provincial(request: Request, interaction: str = "") -> Response:
        provincial = pending_provincial(request)
        if provincial is None:
            return RedirectResponse("/isso/register", status_code=303)
        return page(request, "register_person.html", person_page(request, {}, interaction=interaction, provincial=provincial))

    @router.post("/register/provincial", include_in_schema=False)
    async def register_provincial_submit(request: Request) -> Response:
        provincial = pending_provincial(request)
        if provincial is None:
            await verify_csrf_form(request)
            return RedirectResponse("/isso/register", status_code=303)
        return await _register(request, provincial=provincial)

    async def _register(request: Request, *, provincial: dict | None) -> Response:
        form = await verify_csrf_form(request)
        values = {k: text_of(form, k, 40) for k in PERSON_FIELDS}
        interaction = text_of(form, "interaction", 100)
        if form.get("action") == "send_sms":
            answer = await send_sms(request, mobile=values["mobile"], purpose="register_person")
            if isinstance(answer, JSONResponse):
                return answer
            return page(request, "register_person.html", person_page(request, values, interaction=interaction, provincial=provincial, **answer), status=200 if answer["sms_ok"] else 400)
        upstream = None
        if provincial is not None:
            upstream = ProvincialPerson(issuer=provincial["iss"], subject=provincial["sub"], name=provincial["name"], id_number=provincial["id_number"], acr=provincial["acr"])
        services = isso(request)
        try:
            person = await run_in_threadpool(
                lambda: services.persons.register(
                    name=values["name"],
                    id_number=values["id_number"],
                    mobile=values["mobile"],
                    sms_code=values["sms_code"][:10],
                    login_name=values["login_name"],
                    password=_secret(form, "password"),
                    password2=_secret(form, "password2"),
                    provincial=upstream,
                )
            )
        except FormRejected as rejected:
            return page(request, "register_person.html", person_page(request, values, interaction=interaction, provincial=provincial), errors=rejected.errors)
        request.session.pop("fed_person", None)
        start_person_session(request, person=person, amr=["pwd", "sms"] if upstream is None else ["fed", "sms"])
        return RedirectResponse(with_interaction("/isso/register/done", interaction), status_code=303)

    @router.get("/register/done", include_in_schema=False)
    async def register_done(request: Request, interaction: str = "") -> Response:
        person_id = request.session.get("person_id")
        if not person_id:
            return RedirectResponse("/isso/register", status_code=303)

        def load():
            with request.app.state.db.transaction() as db:
                person = get_person(db, person_id=person_id)
                db.expunge(person)
                return person

        person = await run_in_threadpool(load)
        return render(request, "register_person_done.html", {"person": person, "level_label": level_label(person.realname_level), "interaction": interaction})

    # -- 找回登录账号 ------------------------------------------------------------
    @router.get("/find-login-id", include_in_schema=False)
    async def find_login(request: Request) -> Response:
        return page(request, "find_login.html", {"values": {}, "found": None, "sms_ok": None, "sms_message": ""})

    @router.post("/find-login-id", include_in_schema=False)
    async def find_login_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        values = {k: text_of(form, k, 20) for k in ("id_number", "mobile", "sms_code")}
        ctx: dict[str, Any] = {"values": values, "found": None, "sms_ok": None, "sms_message": ""}
        if form.get("action") == "send_sms":
            answer = await send_sms(request, mobile=values["mobile"], purpose="find_login_name")
            if isinstance(answer, JSONResponse):
                return answer
            return page(request, "find_login.html", {**ctx, **answer}, status=200 if answer["sms_ok"] else 400)
        services = isso(request)
        try:
            found = await run_in_threadpool(
                lambda: services.persons.find_login_name(id_number=values["id_number"], mobile=values["mobile"], sms_code=text_of(form, "sms_code", 10))
            )
        except FormRejected as rejected:
            return page(request, "find_login.html", ctx, errors=rejected.errors)
        return page(request, "find_login.html", {**ctx, "found": found})

    # -- 忘记密码 ----------------------------------------------------------------
    @router.get("/forgot-password", include_in_schema=False)
    async def forgot(request: Request) -> Response:
        return page(request, "forgot_password.html", {**common(request), "step": 1, "values": {}})

    @router.post("/forgot-password", include_in_schema=False)
    async def forgot_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        values = {"login_name": text_of(form, "login_name", 40), "id_number": text_of(form, "id_number", 20)}
        services = isso(request)
        try:
            person_id, masked = await run_in_threadpool(
                lambda: services.persons.start_reset(login_name=values["login_name"], id_number=values["id_number"], address=client_address(request))
            )
        except FormRejected as rejected:
            return page(request, "forgot_password.html", {**common(request), "step": 1, "values": values}, errors=rejected.errors)
        request.session["pw_reset"] = {"person_id": person_id, "masked": masked}
        return RedirectResponse("/isso/forgot-password/reset", status_code=303)

    @router.get("/forgot-password/reset", include_in_schema=False)
    async def reset(request: Request) -> Response:
        pending = request.session.get("pw_reset")
        if not pending:
            return RedirectResponse("/isso/forgot-password", status_code=303)
        return page(request, "forgot_password.html", {**common(request), "step": 2, "values": {}, "sent_to": pending["masked"], "sms_ok": None, "sms_message": ""})

    @router.post("/forgot-password/reset", include_in_schema=False)
    async def reset_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        pending = request.session.get("pw_reset")
        if not pending:
            return RedirectResponse("/isso/forgot-password", status_code=303)
        services = isso(request)
        ctx = {**common(request), "step": 2, "values": {}, "sent_to": None, "sms_ok": None, "sms_message": ""}
        if form.get("action") == "send_sms":
            result = await run_in_threadpool(lambda: services.persons.resend_reset(person_id=pending["person_id"], address=client_address(request)))
            message = f"验证码已发送至{pending['masked']}，5分钟内有效" if result.sent else (result.error or "")
            if "application/json" in request.headers.get("accept", ""):
                return JSONResponse({"ok": result.sent, "message": message}, status_code=200 if result.sent else 400)
            return page(request, "forgot_password.html", {**ctx, "sms_ok": result.sent, "sms_message": message}, status=200 if result.sent else 400)
        try:
            login_name = await run_in_threadpool(
                lambda: services.persons.finish_reset(
                    person_id=pending["person_id"], sms_code=text_of(form, "sms_code", 10), password=_secret(form, "password"), password2=_secret(form, "password2")
                )
            )
        except FormRejected as rejected:
            return page(request, "forgot_password.html", ctx, errors=rejected.errors)
        request.session.pop("pw_reset", None)
        await run_in_threadpool(services.person_login.unlock, login_name)
        # Whoever forgot the password may not be the only one who had it: no login of the person survives.
        await run_in_threadpool(lambda: end_person_logins(request.app.state.provider, person_id=pending["person_id"]))
        flash(request, msg.RESET_DONE)
        return RedirectResponse("/isso/login?tab=personal&method=password", status_code=303)

    # -- 单位注册 ----------------------------------------------------------------
    def unit_common(request: Request) -> dict[str, Any]:
        return {**common(request), "steps": UNIT_STEPS}

    @router.get("/register/unit", include_in_schema=False)
    async def unit_step1(request: Request, restart: str = "") -> Response:
        if restart:
            request.session.pop("unit_reg", None)
        return page(request, "unit_register_step1.html", {**unit_common(request), "values": {}})

    @router.post("/register/unit", include_in_schema=False)
    async def unit_step1_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        values = {"login_name": text_of(form, "login_name", 40), "id_number": text_of(form, "id_number", 20)}
        services = isso(request)
        try:
            person_id = await run_in_threadpool(
                lambda: services.units.check_registrant(login_name=values["login_name"], id_number=values["id_number"], address=client_address(request))
            )
        except FormRejected as rejected:
            return page(request, "unit_register_step1.html", {**unit_common(request), "values": values}, errors=rejected.errors)
        request.session["unit_reg"] = {"person_id": person_id}
        return RedirectResponse("/isso/register/unit/info", status_code=303)

    def registrant(request: Request) -> dict | None:
        data = request.session.get("unit_reg") or {}
        person_id = data.get("person_id")
        if not person_id:
            return None
        with request.app.state.db.transaction() as db:
            person = get_person(db, person_id=person_id)
            if person is None:
                return None
            return {"id": person.id, "name": person.name, "login_name": person.login_name, "masked_id": mask_id_number(person.id_number)}

    def unit_info_ctx(request: Request, who: dict, values: dict[str, str], **extra: Any) -> dict[str, Any]:
        return {
            **unit_common(request),
            "registrant": who,
            "values": values,
            "cert_types": CERT_TYPES,
            "regions": {code: f"广东省 {name}" for code, name in GUANGDONG_CITIES.items()},
            "legal_rep_id_type": LEGAL_REP_ID_TYPE,
            "sms_ok": None,
            "sms_message": "",
            **extra,
        }

    @router.get("/register/unit/info", include_in_schema=False)
    async def unit_step2(request: Request) -> Response:
        who = await run_in_threadpool(registrant, request)
        if who is None:
            return RedirectResponse("/isso/register/unit", status_code=303)
        return page(request, "unit_register_step2.html", unit_info_ctx(request, who, {}))

    @router.post("/register/unit/info", include_in_schema=False)
    async def unit_step2_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        who = await run_in_threadpool(registrant, request)
        if who is None:
            return RedirectResponse("/isso/register/unit", status_code=303)
        values = {k: text_of(form, k, 120) for k in UNIT_FIELDS}
        if form.get("action") == "send_sms":
            answer = await send_sms(request, mobile=values["legal_rep_mobile"], purpose="register_unit")
            if isinstance(answer, JSONResponse):
                return answer
            return page(request, "unit_register_step2.html", unit_info_ctx(request, who, values, **answer), status=200 if answer["sms_ok"] else 400)
        services = isso(request)
        data = {**values, "password": _secret(form, "password"), "password2": _secret(form, "password2")}
        try:
            unit = await run_in_threadpool(lambda: services.units.register(person_id=who["id"], form=data))
        except FormRejected as rejected:
            return page(request, "unit_register_step2.html", unit_info_ctx(request, who, values), errors=rejected.errors)
        request.session["unit_reg"] = {"done": {"unit_code": unit.unit_code, "login_name": unit.login_name, "org_name": unit.org_name}}
        return RedirectResponse("/isso/register/unit/done", status_code=303)

    @router.get("/register/unit/done", include_in_schema=False)
    async def unit_step3(request: Request) -> Response:
        data = request.session.get("unit_reg") or {}
        if "done" not in data:
            return RedirectResponse("/isso/register/unit", status_code=303)
        return render(request, "unit_register_done.html", {"steps": UNIT_STEPS, "done": data["done"]})

    # -- 登录初始化: an unlinked provincial legal person's 单位注册 -----------------
    def init_claims(request: Request) -> dict | None:
        data = request.session.get(INIT_KEY)
        if not isinstance(data, dict) or not isinstance(data.get("claims"), dict):
            return None
        return data["claims"]

    def init_ctx(request: Request, claims: dict, values: dict[str, str]) -> dict[str, Any]:
        return {**unit_common(request), "values": values, "provincial": claims, "form_action": "/isso/init"}

    @router.get("/init", include_in_schema=False)
    async def init_step1(request: Request) -> Response:
        claims = init_claims(request)
        if claims is None:
            return RedirectResponse("/isso/login?tab=unit&method=gdzwfw", status_code=303)
        return page(request, "unit_register_step1.html", init_ctx(request, claims, {}))

    @router.post("/init", include_in_schema=False)
    async def init_step1_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        claims = init_claims(request)
        if claims is None:
            return RedirectResponse("/isso/login?tab=unit&method=gdzwfw", status_code=303)
        values = {"login_name": text_of(form, "login_name", 40), "id_number": text_of(form, "id_number", 20)}
        services = isso(request)
        try:
            person_id = await run_in_threadpool(
                lambda: services.units.check_registrant(
                    login_name=values["login_name"], id_number=values["id_number"], address=client_address(request)
                )
            )
        except FormRejected as rejected:
            return page(request, "unit_register_step1.html", init_ctx(request, claims, values), errors=rejected.errors)
        request.session[INIT_KEY] = {"claims": claims, "person_id": person_id}
        return RedirectResponse("/isso/init/info", status_code=303)

    def init_registrant(request: Request) -> tuple[dict, dict] | None:
        claims = init_claims(request)
        person_id = (request.session.get(INIT_KEY) or {}).get("person_id")
        if claims is None or not person_id:
            return None
        with request.app.state.db.transaction() as db:
            person = get_person(db, person_id=person_id)
            if person is None:
                return None
            who = {"id": person.id, "name": person.name, "login_name": person.login_name, "masked_id": mask_id_number(person.id_number)}
        return claims, who

    def init_info_ctx(request: Request, claims: dict, who: dict, values: dict[str, str], **extra: Any) -> dict[str, Any]:
        return {
            **unit_info_ctx(request, who, values, **extra),
            "provincial": claims,
            "form_action": "/isso/init/info",
            "restart_url": "/isso/init",
        }

    @router.get("/init/info", include_in_schema=False)
    async def init_step2(request: Request) -> Response:
        found = await run_in_threadpool(init_registrant, request)
        if found is None:
            return RedirectResponse("/isso/init", status_code=303)
        return page(request, "unit_register_step2.html", init_info_ctx(request, *found, {}))

    @router.post("/init/info", include_in_schema=False)
    async def init_step2_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        found = await run_in_threadpool(init_registrant, request)
        if found is None:
            return RedirectResponse("/isso/init", status_code=303)
        claims, who = found
        # USCC and 单位名称 are the province's, never the form's.
        values = {k: text_of(form, k, 120) for k in UNIT_FIELDS if k not in ("cert_type", "cert_number", "org_name")}
        if form.get("action") == "send_sms":
            answer = await send_sms(request, mobile=values["legal_rep_mobile"], purpose="register_unit")
            if isinstance(answer, JSONResponse):
                return answer
            return page(
                request,
                "unit_register_step2.html",
                init_info_ctx(request, claims, who, values, **answer),
                status=200 if answer["sms_ok"] else 400,
            )
        services = isso(request)
        data = {**values, "password": _secret(form, "password"), "password2": _secret(form, "password2")}
        provincial = ProvincialClaims(issuer=claims["iss"], subject=claims["sub"], uscc=claims["uscc"], org_name=claims["org_name"])
        try:
            unit = await run_in_threadpool(lambda: services.units.register(person_id=who["id"], form=data, provincial=provincial))
        except FormRejected as rejected:
            return page(request, "unit_register_step2.html", init_info_ctx(request, claims, who, values), errors=rejected.errors)
        request.session.pop(INIT_KEY, None)
        request.session[INIT_DONE_KEY] = {"unit_code": unit.unit_code, "login_name": unit.login_name, "org_name": unit.org_name}
        return RedirectResponse("/isso/init/done", status_code=303)

    @router.get("/init/done", include_in_schema=False)
    async def init_step3(request: Request) -> Response:
        done = request.session.get(INIT_DONE_KEY)
        if not isinstance(done, dict):
            return RedirectResponse("/isso/login?tab=unit&method=gdzwfw", status_code=303)
        return render(request, "unit_register_done.html", {"steps": UNIT_STEPS, "done": done, "provincial": True})

    # -- 登录初始化 for a unit registered the other way: a handler confirms -----
    @router.get("/init/confirm", include_in_schema=False)
    async def confirm_link(request: Request) -> Response:
        pending = request.session.get(LINK_PENDING_KEY)
        if not isinstance(pending, dict):
            return RedirectResponse("/isso/login?tab=unit&method=gdzwfw", status_code=303)
        if not request.session.get("person_id"):
            return RedirectResponse("/isso/login?tab=personal&method=password", status_code=303)
        return page(request, "provincial_link_confirm.html", {"pending": pending, "done": False, "person_name": request.session.get("person_name")})

    @router.post("/init/confirm", include_in_schema=False)
    async def confirm_link_submit(request: Request) -> Response:
        await verify_csrf_form(request)
        pending = request.session.get(LINK_PENDING_KEY)
        person_id = request.session.get("person_id")
        if not isinstance(pending, dict) or not person_id:
            return RedirectResponse("/isso/login?tab=unit&method=gdzwfw", status_code=303)
        state = request.app.state

        def confirm() -> str | None:
            with state.db.transaction() as db:
                return confirm_provincial_link(
                    db, person_id=person_id, issuer=pending["iss"], subject=pending["sub"], uscc=pending["uscc"], now=state.clock.now()
                )

        problem = await run_in_threadpool(confirm)
        ctx = {"pending": pending, "done": problem is None, "person_name": request.session.get("person_name")}
        if problem:
            return page(request, "provincial_link_confirm.html", ctx, errors={"": problem})
        request.session.pop(LINK_PENDING_KEY, None)
        return page(request, "provincial_link_confirm.html", ctx)

    @router.get("/help/realname", include_in_schema=False)
    async def help_realname(request: Request) -> Response:
        return render(request, "help_realname.html", {})

    return router
