"""账号安全设置 (修改密码、手机号、邮箱) and 找回密码/账号.

Every change is confirmed by the current password or by an SMS code sent to
the bound mobile number; wrong current passwords count towards the same
lockout as wrong logins. Recovery proves control of the bound mobile number.

A new password ends the account's other logins: whoever knew the old one
keeps nothing it gave them. Their browser sessions stop counting (the
account's login generation rises, ``hooks.login_current``) and the tokens
issued under them are revoked with back-channel logout notices to their
clients. A change keeps the browser it was made in; a reset keeps none.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import update
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import find_by_login_name, find_by_mobile, handled_by, set_password
from services.gdzwfw_idp.hooks import SESSION_GENERATION, SESSION_SID
from services.gdzwfw_idp.login.sessions import Current, current, flash, pop_flash, read_form
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.registration.rules import check_email
from shared.account_rules import RuleError, check_gdzwfw_password
from shared.sms import MOBILE_MESSAGE, check_mobile, mask_mobile
from shared.web.app import error_page, render
from shared.web.sessions import rotate_session

__all__ = ["security_router"]


def _new_password_errors(form: dict[str, str], errors: dict[str, str]) -> str | None:
    new = form.get("new_password", "")
    try:
        check_gdzwfw_password(new)
    except RuleError as exc:
        errors["new_password"] = exc.message
        return None
    if form.get("new_password_confirm", "") != new:
        errors["new_password_confirm"] = msg.PASSWORD_MISMATCH
        return None
    return new


def end_logins(state: Any, *, person_id: str, keep_sid: str | None) -> int:
    """End every login ``person_id`` authenticated but ``keep_sid``: its own,
    and those in which it acts as handler for a unit. The number of tokens
    revoked."""
    with state.db.transaction() as db:
        units = [unit.id for _, unit in handled_by(db, handler_id=person_id)]
    return state.provider.end_logins_of(person_id, subjects=[person_id, *units], keep_sid=keep_sid)


def security_router() -> APIRouter:
    router = APIRouter()

    async def own_account(request: Request) -> Current | Response:
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        if me.acting:
            return error_page(request, 403, msg.HANDLER_ONLY_OWN, back_url="/account")
        return me

    def page(request: Request, me: Current, *, errors: dict[str, dict[str, str]] | None = None, values: dict[str, str] | None = None, status: int = 200) -> Response:
        account = me.account
        return render(
            request,
            "security.html",
            {
                "me": me,
                "account": account,
                "section": "security",
                "errors": errors or {},
                "v": values or {},
                "masked_mobile": mask_mobile(account.mobile) if account.mobile else None,
                "has_password": account.password_hash != "!",
                "flash": pop_flash(request),
            },
            status_code=status,
        )

    @router.get("/account/security", include_in_schema=False)
    async def security(request: Request) -> Response:
        me = await own_account(request)
        if isinstance(me, Response):
            return me
        return page(request, me)

    def confirm_identity(request: Request, me: Current, form: dict[str, str], errors: dict[str, str], *, allow_sms: bool) -> bool:
        """The current password, or (where allowed) an SMS code to the bound number."""
        state = request.app.state
        if allow_sms and form.get("verify_by") == "sms":
            if not me.account.mobile:
                errors["sms_code"] = "本账号未绑定手机号码，请使用当前密码验证"
                return False
            code = form.get("sms_code", "")
            if not code:
                errors["sms_code"] = msg.SMS_CODE_MISSING
                return False
            with state.db.transaction() as db:
                problem = state.idp.sms.verify(db, mobile=me.account.mobile, purpose="change-password", code=code)
            if problem:
                errors["sms_code"] = problem
                return False
            return True
        if me.account.password_hash == "!":
            # Accounts opened by an electronic-licence login have no password yet.
            return True
        limiter = state.login_service.per_account
        if limiter.is_blocked(me.account.login_name):
            errors["current_password"] = "当前密码错误次数过多，请稍后再试或通过“找回密码/账号”重置"
            return False
        if not state.idp.passwords.verify(me.account.password_hash, form.get("current_password", "")):
            left = limiter.hit(me.account.login_name)
            errors["current_password"] = msg.CURRENT_PASSWORD_WRONG + (f"，您还可以尝试{left}次" if left else "")
            return False
        return True

    @router.post("/account/security/password", include_in_schema=False)
    async def change_password(request: Request) -> Response:
        form = await read_form(request)
        me = await own_account(request)
        if isinstance(me, Response):
            return me
        state = request.app.state
        errors: dict[str, str] = {}
        new = _new_password_errors(form, errors)

        def apply() -> int | None:
            if new is None or not confirm_identity(request, me, form, errors, allow_sms=True):
                return None
            new_hash = state.idp.passwords.hash(new)
            with state.db.transaction() as db:
                return set_password(db, account_id=me.account.id, password_hash=new_hash)

        generation = await run_in_threadpool(apply)
        if errors or generation is None:
            return page(request, me, errors={"password": errors}, values={"verify_by": form.get("verify_by", "password")}, status=400)
        # This browser goes on under the new generation, with a new session id
        # (one copied before the change is worth nothing after it).
        rotate_session(request)
        request.session[SESSION_GENERATION] = generation
        await run_in_threadpool(end_logins, state, person_id=me.account.id, keep_sid=request.session.get(SESSION_SID))
        flash(request, msg.PASSWORD_CHANGED)
        return RedirectResponse("/account/security", status_code=303)

    @router.post("/account/security/mobile", include_in_schema=False)
    async def change_mobile(request: Request) -> Response:
        form = await read_form(request)
        me = await own_account(request)
        if isinstance(me, Response):
            return me
        state = request.app.state
        errors: dict[str, str] = {}
        mobile = check_mobile(form.get("mobile", ""))
        if mobile is None:
            errors["mobile"] = MOBILE_MESSAGE
        elif mobile == me.account.mobile:
            errors["mobile"] = "新手机号码与当前绑定的号码相同"

        def apply() -> None:
            if errors or not confirm_identity(request, me, form, errors, allow_sms=False):
                return
            code = form.get("sms_code", "")
            with state.db.transaction() as db:
                problem = msg.SMS_CODE_MISSING if not code else state.idp.sms.verify(db, mobile=mobile, purpose="change-mobile", code=code)
                if problem:
                    errors["sms_code"] = problem
                    return
                db.execute(update(Account).where(Account.id == me.account.id).values(mobile=mobile))

        await run_in_threadpool(apply)
        if errors:
            return page(request, me, errors={"mobile": errors}, values={"mobile": form.get("mobile", "")}, status=400)
        flash(request, f"手机号码已修改为 {mask_mobile(mobile)}。")
        return RedirectResponse("/account/security", status_code=303)

    @router.post("/account/security/email", include_in_schema=False)
    async def change_email(request: Request) -> Response:
        form = await read_form(request)
        me = await own_account(request)
        if isinstance(me, Response):
            return me
        state = request.app.state
        errors: dict[str, str] = {}
        email = check_email(form.get("email", ""))
        if email is None:
            errors["email"] = msg.EMAIL_INVALID

        def apply() -> None:
            if errors or not confirm_identity(request, me, form, errors, allow_sms=False):
                return
            with state.db.transaction() as db:
                db.execute(update(Account).where(Account.id == me.account.id).values(email=email))

        await run_in_threadpool(apply)
        if errors:
            return page(request, me, errors={"email": errors}, values={"email": form.get("email", "")}, status=400)
        flash(request, "电子邮箱已修改。")
        return RedirectResponse("/account/security", status_code=303)

    # -- 找回密码 ----------------------------------------------------------------------
    @router.get("/recover/password", include_in_schema=False)
    async def recover_password(request: Request, tab: str = "legal") -> Response:
        return render(request, "recover.html", {"which": "password", "errors": {}, "v": {}, "tab": tab})

    @router.post("/recover/password", include_in_schema=False)
    async def recover_password_submit(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        errors: dict[str, str] = {}
        mobile = check_mobile(form.get("mobile", ""))
        if not form.get("login_name"):
            errors["login_name"] = "请输入登录账号"
        if mobile is None:
            errors["mobile"] = MOBILE_MESSAGE
        new = _new_password_errors(form, errors)

        def reset() -> str | None:
            """The account whose password was reset, or None."""
            if errors or new is None or mobile is None:
                return None
            code = form.get("sms_code", "")
            with state.db.transaction() as db:
                problem = msg.SMS_CODE_MISSING if not code else state.idp.sms.verify(db, mobile=mobile, purpose="reset-password", code=code)
                if problem:
                    errors["sms_code"] = problem
                    return None
                account = find_by_login_name(db, login_name=form["login_name"])
                if account is None or account.mobile != mobile:
                    errors["mobile"] = "登录账号与绑定的手机号码不一致"
                    return None
                set_password(db, account_id=account.id, password_hash=state.idp.passwords.hash(new))
                account_id = account.id
            state.login_service.per_account.reset(form["login_name"])
            # Whoever forgot the password may not be the only one who had it: no login survives.
            end_logins(state, person_id=account_id, keep_sid=None)
            return account_id

        if await run_in_threadpool(reset) is None:
            values = {k: form.get(k, "") for k in ("login_name", "mobile")}
            return render(request, "recover.html", {"which": "password", "errors": errors, "v": values, "tab": form.get("tab", "legal")}, status_code=400)
        done = msg.PASSWORD_RESET.format(login_name=form["login_name"])
        return render(request, "recover_done.html", {"which": "password", "login_name": form["login_name"], "reset_message": done, "tab": form.get("tab", "legal")})

    # -- 找回账号 ----------------------------------------------------------------------
    @router.get("/recover/account", include_in_schema=False)
    async def recover_account(request: Request) -> Response:
        return render(request, "recover.html", {"which": "account", "errors": {}, "v": {}, "tab": "legal"})

    @router.post("/recover/account", include_in_schema=False)
    async def recover_account_submit(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        errors: dict[str, str] = {}
        mobile = check_mobile(form.get("mobile", ""))
        if mobile is None:
            errors["mobile"] = MOBILE_MESSAGE

        def find() -> list[dict[str, str]]:
            if errors or mobile is None:
                return []
            code = form.get("sms_code", "")
            with state.db.transaction() as db:
                problem = msg.SMS_CODE_MISSING if not code else state.idp.sms.verify(db, mobile=mobile, purpose="find-account", code=code)
                if problem:
                    errors["sms_code"] = problem
                    return []
                return [
                    {"login_name": a.login_name, "kind": "法人账号" if a.account_type == "legal_person" else "个人账号", "name": a.org_name or a.person_name or ""}
                    for a in find_by_mobile(db, mobile=mobile)
                    if a.status == "active"
                ]

        found = await run_in_threadpool(find)
        if errors:
            return render(request, "recover.html", {"which": "account", "errors": errors, "v": {"mobile": form.get("mobile", "")}, "tab": "legal"}, status_code=400)
        return render(request, "recover_done.html", {"which": "account", "accounts": found, "masked_mobile": mask_mobile(mobile or ""), "tab": "legal"})

    return router
