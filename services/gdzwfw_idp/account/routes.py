"""账号管理: 账号基本信息, 账号安全设置 and 找回密码/账号 (the rules: ``security``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.account import security
from services.gdzwfw_idp.deps import FormDep, IdpDep, LoggedIn, OwnAccount
from services.gdzwfw_idp.flash import flash, pop_flash
from services.gdzwfw_idp.hooks import SESSION_GENERATION, SESSION_SID
from services.gdzwfw_idp.login.sessions import Current
from services.gdzwfw_idp.registration.rules import check_email
from shared.identifiers import mask_id_number
from shared.sms import MOBILE_MESSAGE, check_mobile, mask_mobile
from shared.web.app import render
from shared.web.sessions import rotate_session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


# -- 账号基本信息 -------------------------------------------------------------------
@router.get("/account")
async def account_home(request: Request, me: LoggedIn) -> Response:
    account = me.account
    return render(
        request,
        "account.html",
        {
            "me": me,
            "account": account,
            "level": me.level,
            "masked_rep_id": mask_id_number(account.legal_rep_id_number or account.id_number or ""),
            "masked_applicant_id": mask_id_number(account.applicant_id_number or ""),
            "masked_mobile": mask_mobile(account.mobile) if account.mobile else "未绑定",
            "section": "basic",
            "flash": pop_flash(request),
            "sid_present": bool(request.session.get(SESSION_SID)),
        },
    )


# -- 账号安全设置 -------------------------------------------------------------------
def security_page(
    request: Request,
    me: Current,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
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
            "has_password": account.password_hash != security.NO_PASSWORD,
            "flash": pop_flash(request),
        },
        status_code=status,
    )


@router.get("/account/security")
async def security_settings(request: Request, me: OwnAccount) -> Response:
    return security_page(request, me)


@router.post("/account/security/password")
async def change_password(request: Request, form: FormDep, me: OwnAccount, idp: IdpDep) -> Response:
    errors: dict[str, str] = {}
    generation = await run_in_threadpool(security.change_password, idp, me.account, form, errors)
    if errors or generation is None:
        return security_page(request, me, errors={"password": errors}, values={"verify_by": form.get("verify_by", "password")}, status=400)
    # This browser goes on under the new generation, with a new session id
    # (one copied before the change is worth nothing after it).
    rotate_session(request)
    request.session[SESSION_GENERATION] = generation
    await run_in_threadpool(lambda: security.end_logins(idp, person_id=me.account.id, keep_sid=request.session.get(SESSION_SID)))
    flash(request, msg.PASSWORD_CHANGED)
    return RedirectResponse("/account/security", status_code=303)


@router.post("/account/security/mobile")
async def change_mobile(request: Request, form: FormDep, me: OwnAccount, idp: IdpDep) -> Response:
    errors: dict[str, str] = {}
    mobile = check_mobile(form.get("mobile", ""))
    if mobile is None:
        errors["mobile"] = MOBILE_MESSAGE
    elif mobile == me.account.mobile:
        errors["mobile"] = "新手机号码与当前绑定的号码相同"
    else:
        await run_in_threadpool(security.change_mobile, idp, me.account, form, mobile, errors)
    if errors or mobile is None:
        return security_page(request, me, errors={"mobile": errors}, values={"mobile": form.get("mobile", "")}, status=400)
    flash(request, f"手机号码已修改为 {mask_mobile(mobile)}。")
    return RedirectResponse("/account/security", status_code=303)


@router.post("/account/security/email")
async def change_email(request: Request, form: FormDep, me: OwnAccount, idp: IdpDep) -> Response:
    errors: dict[str, str] = {}
    email = check_email(form.get("email", ""))
    if email is None:
        errors["email"] = msg.EMAIL_INVALID
    else:
        await run_in_threadpool(security.change_email, idp, me.account, form, email, errors)
    if errors:
        return security_page(request, me, errors={"email": errors}, values={"email": form.get("email", "")}, status=400)
    flash(request, "电子邮箱已修改。")
    return RedirectResponse("/account/security", status_code=303)


# -- 找回密码 ----------------------------------------------------------------------
@router.get("/recover/password")
async def recover_password(request: Request, tab: str = "legal") -> Response:
    return render(request, "recover.html", {"which": "password", "errors": {}, "v": {}, "tab": tab})


@router.post("/recover/password")
async def recover_password_submit(request: Request, form: FormDep, idp: IdpDep) -> Response:
    errors: dict[str, str] = {}
    login_name = form.get("login_name", "")
    mobile = check_mobile(form.get("mobile", ""))
    if not login_name:
        errors["login_name"] = "请输入登录账号"
    if mobile is None:
        errors["mobile"] = MOBILE_MESSAGE
    new = security.new_password(form, errors)
    reset = None
    if not errors and new is not None and mobile is not None:
        code = form.get("sms_code", "")
        reset = await run_in_threadpool(
            lambda: security.reset_password(idp, login_name=login_name, mobile=mobile, new=new, code=code, errors=errors)
        )
    tab = form.get("tab", "legal")
    if reset is None:
        values = {k: form.get(k, "") for k in ("login_name", "mobile")}
        return render(request, "recover.html", {"which": "password", "errors": errors, "v": values, "tab": tab}, status_code=400)
    done = msg.PASSWORD_RESET.format(login_name=login_name)
    return render(request, "recover_done.html", {"which": "password", "login_name": login_name, "reset_message": done, "tab": tab})


# -- 找回账号 ----------------------------------------------------------------------
@router.get("/recover/account")
async def recover_account(request: Request) -> Response:
    return render(request, "recover.html", {"which": "account", "errors": {}, "v": {}, "tab": "legal"})


@router.post("/recover/account")
async def recover_account_submit(request: Request, form: FormDep, idp: IdpDep) -> Response:
    errors: dict[str, str] = {}
    mobile = check_mobile(form.get("mobile", ""))
    found: list[dict[str, str]] = []
    if mobile is None:
        errors["mobile"] = MOBILE_MESSAGE
    else:
        code = form.get("sms_code", "")
        found = await run_in_threadpool(lambda: security.accounts_of_mobile(idp, mobile=mobile, code=code, errors=errors))
    if errors:
        return render(
            request,
            "recover.html",
            {"which": "account", "errors": errors, "v": {"mobile": form.get("mobile", "")}, "tab": "legal"},
            status_code=400,
        )
    return render(
        request, "recover_done.html", {"which": "account", "accounts": found, "masked_mobile": mask_mobile(mobile or ""), "tab": "legal"}
    )
