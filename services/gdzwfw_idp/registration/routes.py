"""法人注册 (1 输入基础信息 → 2 实名核验 → 3 注册完成), 个人注册, and the SMS
code endpoint every form with 获取验证码 uses.

The wizard lives in the server-side session (the shared store, never a
process's memory) until step 3 creates the account: abandoning or failing a
step leaves nothing in the account tables. Passwords are kept there only as
their argon2 hash.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import find_by_login_name, find_by_mobile, get_account
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT
from services.gdzwfw_idp.login.sessions import client_address, read_form
from services.gdzwfw_idp.qr.routes import clear_wizard, load_wizard, masked_person, new_qr, qr_router, save_wizard
from services.gdzwfw_idp.registration.divisions import cities_of, divisions
from services.gdzwfw_idp.registration.rules import (
    check_legal_fields,
    check_person_fields,
    create_legal_person,
    create_natural_person,
    duplicate_errors,
)
from services.gdzwfw_idp.registry import check_legal_person, check_person
from shared.identifiers import mask_id_number
from shared.sms import check_mobile, mask_mobile
from shared.trust import TrustLevel
from shared.web.app import render

__all__ = ["registration_router", "SMS_PURPOSES"]

SMS_PURPOSES = {
    "register-legal": "法人注册",
    "register-person": "个人注册",
    "reset-password": "找回密码",
    "find-account": "找回账号",
    "change-password": "修改密码",
    "change-mobile": "修改手机号",
}
LEGAL_STEPS = ("输入基础信息", "实名核验", "注册完成")
REG_DONE = "reg_done"
# Non-secret fields a returning user finds filled in again.
_KEEP = ("login_name", "org_name", "uscc", "province", "city", "district", "address_detail", "legal_rep_name", "legal_rep_id_number", "mobile")


def _region_lists(values: dict[str, str]) -> dict[str, Any]:
    cities = cities_of(values.get("province", ""))
    districts = next((c["districts"] for c in cities if c["name"] == values.get("city")), [])
    return {"provinces": divisions()["provinces"], "cities": cities, "districts": districts}


def registration_router() -> APIRouter:
    router = APIRouter()
    router.include_router(qr_router())

    # -- 获取验证码 -------------------------------------------------------------
    @router.post("/sms/send", include_in_schema=False)
    async def sms_send(request: Request) -> JSONResponse:
        form = await read_form(request)
        purpose = form.get("purpose", "")
        if purpose not in SMS_PURPOSES:
            return JSONResponse({"sent": False, "error": "请求无效"}, status_code=400)
        state = request.app.state
        idp = state.idp
        address = client_address(request)

        def send() -> dict[str, Any]:
            mobile = check_mobile(form.get("mobile", ""))
            generic = False
            # Look up first, in its own transaction: sending touches the rate-limit
            # store, which on SQLite is the same database (no nested writers).
            with state.db.transaction() as db:
                if purpose == "change-password":
                    account = get_account(db, account_id=request.session.get(SESSION_ACCOUNT) or "")
                    if account is None or not account.mobile:
                        return {"sent": False, "error": "请先登录，并确认账号已绑定手机号码"}
                    mobile = account.mobile
                elif purpose == "change-mobile" and not request.session.get(SESSION_ACCOUNT):
                    return {"sent": False, "error": "请先登录"}
                matches = True
                if purpose in ("reset-password", "find-account") and mobile:
                    # Say the same whether or not the number belongs to the account,
                    # so this form cannot be used to learn who uses which number.
                    generic = True
                    if purpose == "reset-password":
                        account = find_by_login_name(db, login_name=form.get("login_name", ""))
                        matches = account is not None and account.mobile == mobile
                    else:
                        matches = bool(find_by_mobile(db, mobile=mobile))
            if mobile is None:
                return {"sent": False, "error": "请输入正确的11位手机号码"}
            minutes = idp.settings.sms_code_ttl // 60
            dev_note = "（开发环境：短信内容见 /dev/sms）" if idp.outbox is not None and state.settings.is_development else ""
            if not matches:
                # Counted like a send, so probing is rate-limited like sending.
                if idp.sms.per_address.is_blocked(address):
                    return {"sent": False, "error": "获取验证码过于频繁，请稍后再试"}
                idp.sms.per_address.hit(address)
                return {"sent": True, "message": f"如账号信息与手机号码匹配，验证码已发送至该手机，{minutes}分钟内有效{dev_note}", "retry_after": idp.settings.sms_resend_seconds}
            with state.db.transaction() as db:
                result = idp.sms.send(db, mobile=mobile, purpose=purpose, address=address)
            if not result.sent:
                return {"sent": False, "error": result.error, "retry_after": result.retry_after}
            text = "如账号信息与手机号码匹配，验证码已发送至该手机" if generic else f"验证码已发送至 {mask_mobile(mobile)}"
            text += f"，{minutes}分钟内有效{dev_note}"
            return {"sent": True, "message": text, "retry_after": idp.settings.sms_resend_seconds}

        result = await run_in_threadpool(send)
        return JSONResponse(result, status_code=200 if result.get("sent") or result.get("error") else 400)

    # -- 法人注册 step 1: 输入基础信息 ----------------------------------------------
    def legal_context(request: Request, wizard: dict[str, Any], *, errors: dict[str, str], values: dict[str, str]) -> dict[str, Any]:
        applicant = wizard.get("applicant")
        qr = new_qr(request, "face", {"purpose": "register"})
        return {
            "steps": LEGAL_STEPS,
            "errors": errors,
            "v": values,
            "regions": _region_lists(values),
            "divisions": divisions(),
            "qr": qr,
            "applicant": masked_person(applicant["name"], applicant["id_number"]) if applicant else None,
            "mobile_verified": wizard.get("mobile_verified"),
            "interaction": wizard.get("interaction", ""),
            "register_tab": "legal",
        }

    @router.get("/register", include_in_schema=False)
    async def register_home(request: Request, interaction: str = "") -> Response:
        suffix = f"?interaction={interaction}" if interaction else ""
        return RedirectResponse(f"/register/legal{suffix}", status_code=303)

    @router.get("/register/legal", include_in_schema=False)
    async def legal_step1(request: Request, interaction: str = "") -> Response:
        wizard = await run_in_threadpool(load_wizard, request)
        if interaction:
            wizard["interaction"] = interaction[:64]
        await run_in_threadpool(save_wizard, request, wizard)
        values = dict(wizard.get("form") or {"province": "广东省"})
        ctx = await run_in_threadpool(lambda: legal_context(request, wizard, errors={}, values=values))
        return render(request, "register_legal.html", ctx)

    @router.post("/register/legal", include_in_schema=False)
    async def legal_step1_submit(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        idp = state.idp
        wizard = await run_in_threadpool(load_wizard, request)
        clean, errors = check_legal_fields(form, today=state.clock.now().date())

        def checks() -> None:
            with state.db.transaction() as db:
                for field, message in duplicate_errors(db, login_name=clean.get("login_name"), uscc=clean.get("uscc")).items():
                    errors.setdefault(field, message)
                mobile = clean.get("mobile")
                if mobile and wizard.get("mobile_verified") != mobile:
                    code = form.get("sms_code", "")
                    if not code:
                        errors["sms_code"] = msg.SMS_CODE_MISSING
                    elif problem := idp.sms.verify(db, mobile=mobile, purpose="register-legal", code=code):
                        errors["sms_code"] = problem
                    else:
                        wizard["mobile_verified"] = mobile

        await run_in_threadpool(checks)
        if not wizard.get("applicant"):
            errors["applicant"] = msg.APPLICANT_MISSING
        wizard["form"] = {k: form.get(k, "") for k in _KEEP}
        if errors:
            await run_in_threadpool(save_wizard, request, wizard)
            ctx = await run_in_threadpool(lambda: legal_context(request, wizard, errors=errors, values=wizard["form"]))
            return render(request, "register_legal.html", ctx, status_code=400)
        password_hash = await run_in_threadpool(idp.passwords.hash, clean.pop("password"))
        wizard.update(clean, password_hash=password_hash, step=2)
        await run_in_threadpool(save_wizard, request, wizard)
        return RedirectResponse("/register/legal/verify", status_code=303)

    # -- step 2: 实名核验 (法人基础库) ---------------------------------------------
    def verify_context(wizard: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        applicant = wizard["applicant"]
        return {
            "steps": LEGAL_STEPS,
            "w": wizard,
            "errors": errors,
            "masked_rep_id": mask_id_number(wizard["legal_rep_id_number"]),
            "applicant": masked_person(applicant["name"], applicant["id_number"]),
            "masked_mobile": mask_mobile(wizard["mobile"]),
            "register_tab": "legal",
        }

    @router.get("/register/legal/verify", include_in_schema=False)
    async def legal_step2(request: Request) -> Response:
        wizard = await run_in_threadpool(load_wizard, request)
        if wizard.get("step") != 2:
            return RedirectResponse("/register/legal", status_code=303)
        return render(request, "register_verify.html", verify_context(wizard, {}))

    @router.post("/register/legal/verify", include_in_schema=False)
    async def legal_step2_submit(request: Request) -> Response:
        await read_form(request)
        state = request.app.state
        wizard = await run_in_threadpool(load_wizard, request)
        if wizard.get("step") != 2:
            return RedirectResponse("/register/legal", status_code=303)

        def verify_and_create() -> tuple[dict[str, str], str | None]:
            try:
                with state.db.transaction() as db:
                    mismatch = check_legal_person(
                        db,
                        uscc=wizard["uscc"],
                        org_name=wizard["org_name"],
                        legal_rep_name=wizard["legal_rep_name"],
                        legal_rep_id_number=wizard["legal_rep_id_number"],
                    )
                    if mismatch is not None:
                        return mismatch.errors, None
                    duplicates = duplicate_errors(db, login_name=wizard["login_name"], uscc=wizard["uscc"])
                    if duplicates:
                        return duplicates, None
                    account = create_legal_person(db, wizard=wizard, at=state.clock.now())
                    return {}, account.id
            except IntegrityError:
                # Someone registered the same account or unit a moment ago.
                with state.db.transaction() as db:
                    return duplicate_errors(db, login_name=wizard["login_name"], uscc=wizard["uscc"]) or {"uscc": msg.USCC_TAKEN}, None

        errors, account_id = await run_in_threadpool(verify_and_create)
        if errors or not account_id:
            return render(request, "register_verify.html", verify_context(wizard, errors), status_code=400)
        await run_in_threadpool(clear_wizard, request)
        request.session[REG_DONE] = {
            "account_type": "legal_person",
            "login_name": wizard["login_name"],
            "org_name": wizard["org_name"],
            "uscc": wizard["uscc"],
            "level": TrustLevel.L1.name,
            "method": msg.METHOD_REGISTRY,
            "interaction": wizard.get("interaction", ""),
        }
        return RedirectResponse("/register/done", status_code=303)

    # -- step 3: 注册完成 -----------------------------------------------------------
    @router.get("/register/done", include_in_schema=False)
    async def done(request: Request) -> Response:
        info = request.session.get(REG_DONE)
        if not info:
            return RedirectResponse("/register/legal", status_code=303)
        return render(
            request,
            "register_done.html",
            {"steps": LEGAL_STEPS, "info": info, "level": TrustLevel.from_name(info["level"]), "register_tab": "legal" if info["account_type"] == "legal_person" else "personal"},
        )

    # -- 个人注册 ---------------------------------------------------------------------
    @router.get("/register/personal", include_in_schema=False)
    async def personal(request: Request, interaction: str = "") -> Response:
        return render(request, "register_personal.html", {"errors": {}, "v": {}, "interaction": interaction[:64], "register_tab": "personal"})

    @router.post("/register/personal", include_in_schema=False)
    async def personal_submit(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        idp = state.idp
        clean, errors = check_person_fields(form, today=state.clock.now().date())
        password_hash = await run_in_threadpool(idp.passwords.hash, clean["password"]) if not errors else None

        def register() -> str | None:
            try:
                with state.db.transaction() as db:
                    for field, message in duplicate_errors(db, login_name=clean.get("login_name"), id_number=clean.get("id_number")).items():
                        errors.setdefault(field, message)
                    if "id_number" not in errors and "person_name" not in errors and (problem := check_person(db, id_number=clean["id_number"], name=clean["person_name"])):
                        errors["id_number"] = problem
                    if clean.get("mobile"):
                        code = form.get("sms_code", "")
                        if not code:
                            errors["sms_code"] = msg.SMS_CODE_MISSING
                        elif not errors and (problem := idp.sms.verify(db, mobile=clean["mobile"], purpose="register-person", code=code)):
                            errors["sms_code"] = problem
                    if errors or password_hash is None:
                        return None
                    return create_natural_person(db, clean=clean, password_hash=password_hash, at=state.clock.now()).id
            except IntegrityError:
                errors.setdefault("login_name", msg.LOGIN_NAME_TAKEN)
                return None

        account_id = await run_in_threadpool(register)
        if errors or not account_id:
            values = {k: form.get(k, "") for k in ("login_name", "person_name", "id_number", "mobile")}
            return render(request, "register_personal.html", {"errors": errors, "v": values, "interaction": form.get("interaction", "")[:64], "register_tab": "personal"}, status_code=400)
        request.session[REG_DONE] = {
            "account_type": "natural_person",
            "login_name": clean["login_name"],
            "person_name": clean["person_name"],
            "level": TrustLevel.L1.name,
            "method": msg.METHOD_POPULATION,
            "interaction": form.get("interaction", "")[:64],
        }
        return RedirectResponse("/register/done", status_code=303)

    # -- 《用户服务协议》《隐私政策》 ----------------------------------------------------
    @router.get("/agreement/{name}", include_in_schema=False)
    async def agreement(request: Request, name: str) -> Response:
        if name not in ("service", "privacy"):
            return RedirectResponse("/agreement/service", status_code=303)
        return render(request, "agreement.html", {"name": name})

    return router
