"""Login and account pages of 广东省统一身份认证平台 (the seed's part 一).

法人登录 offers the seed's four ways: 微信扫码 (电子营业执照), 账号密码,
网银证书 and CA证书, plus 经办人登录 (a natural person's account acting for a
legal person it handles). 个人登录: 账号密码.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import (
    create_account,
    find_by_login_name,
    find_by_uscc,
    get_account,
    handled_by,
    record_verification,
    verified_methods,
)
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT, SESSION_SID, acting_level
from services.gdzwfw_idp.login.password_login import LoginService
from services.gdzwfw_idp.login.sessions import (
    SESSION_INTERACTION,
    client_address,
    current,
    owner_of,
    pop_flash,
    read_form,
    start_login,
    switch_identity,
)
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.qr.routes import new_qr
from services.gdzwfw_idp.verification.certificate.challenge import issue_challenge, verify_submission
from services.gdzwfw_idp.verification.certificate.verifier import KINDS, CertificateError
from shared.identifiers import mask_id_number
from shared.sms import mask_mobile
from shared.trust import TrustLevel
from shared.web.app import render

__all__ = ["pages_router", "after_login"]

TABS = {"personal": "个人登录", "legal": "法人登录"}
LEGAL_METHODS = {"wechat": "微信扫码", "password": "账号密码", "bank": "网银证书", "ca": "CA证书"}
PERSONAL_METHODS = {"password": "账号密码"}
CERT_METHOD = {"bank": msg.METHOD_BANK_CERT, "ca": msg.METHOD_CA_CERT}
AMR_CERT = ["swk", "pin"]  # RFC 8176: a software-held key, unlocked by a PIN
AMR_LICENCE = ["swk"]


def after_login(request: Request, interaction: str) -> Response:
    """Back to the waiting client, or to the account pages."""
    if interaction:
        request.session[SESSION_INTERACTION] = interaction
        return RedirectResponse(f"/authorize/resume?interaction={interaction}", status_code=303)
    return RedirectResponse("/account", status_code=303)


def pages_router() -> APIRouter:
    router = APIRouter()

    def login_context(
        request: Request, *, interaction: str, tab: str, method: str, error: str | None = None, login_name: str = "", handler: bool = False
    ) -> dict[str, Any]:
        parked = request.app.state.provider.interactions.get(interaction) if interaction else None
        interaction = interaction if parked else ""
        ctx: dict[str, Any] = {
            "interaction": interaction,
            "client_name": parked.client_name if parked else None,
            "tab": tab,
            "tabs": TABS,
            "method": method,
            "methods": LEGAL_METHODS if tab == "legal" else PERSONAL_METHODS,
            "error": error,
            "login_name": login_name,
            "handler": handler,
        }
        if method == "wechat":
            ctx["qr"] = new_qr(request, "licence", {"purpose": "login", "interaction": interaction})
        elif method in KINDS:
            ctx["challenge"] = issue_challenge(request, f"{method}-login")
            ctx["cert_label"] = KINDS[method]
            ctx["dev_certs"] = request.app.state.settings.is_development
            ctx["ca_helper"] = request.app.state.settings.ca_helper
        return ctx

    @router.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        target = "/account" if request.session.get(SESSION_ACCOUNT) else "/login"
        return RedirectResponse(target, status_code=303)

    @router.get("/help", include_in_schema=False)
    async def help_page(request: Request) -> Response:
        return render(request, "help.html", {})

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, interaction: str = "", tab: str = "legal", method: str = "password", login_name: str = "", handler: str = "") -> Response:
        tab = tab if tab in TABS else "legal"
        methods = LEGAL_METHODS if tab == "legal" else PERSONAL_METHODS
        method = method if method in methods else "password"
        as_handler = handler == "1" and method == "password"
        ctx = await run_in_threadpool(
            lambda: login_context(request, interaction=interaction, tab=tab, method=method, login_name=login_name[:40], handler=as_handler)
        )
        return render(request, "login.html", ctx)

    @router.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await read_form(request)
        interaction = form.get("interaction", "")
        tab = form.get("tab", "legal")
        tab = tab if tab in TABS else "legal"
        as_handler = tab == "legal" and form.get("handler") == "1"
        login_name = form.get("login_name", "")[:40]
        password = form.get("password", "")[:128]
        state = request.app.state
        service: LoginService = state.login_service
        address = client_address(request)

        def attempt() -> tuple[Account | None, str | None]:
            result = service.authenticate(
                state.db,
                login_name=login_name,
                password=password,
                account_type="legal_person" if tab == "legal" and not as_handler else "natural_person",
                address=address,
            )
            if as_handler and result.error and "个人登录" in result.error:
                return None, "经办人登录请使用您的个人账号"
            return result.account, result.error

        account, error = await run_in_threadpool(attempt)
        if error or account is None:
            ctx = await run_in_threadpool(
                lambda: login_context(request, interaction=interaction, tab=tab, method="password", error=error, login_name=login_name, handler=as_handler)
            )
            return render(request, "login.html", ctx, status_code=400)
        # The generation read with the password hash that was checked.
        start_login(request, account_id=account.id, amr=["pwd"], generation=account.login_generation)
        if as_handler:
            suffix = f"?interaction={interaction}" if interaction else ""
            return RedirectResponse(f"/login/choose{suffix}", status_code=303)
        return after_login(request, interaction)

    # -- 经办人登录: choose the legal person to act for ------------------------------
    @router.get("/login/choose", include_in_schema=False)
    async def choose(request: Request, interaction: str = "") -> Response:
        me = await current(request)
        if me is None or me.account.account_type != "natural_person":
            return RedirectResponse("/login?tab=legal&handler=1", status_code=303)

        def load() -> list:
            with request.app.state.db.transaction() as db:
                rows = [a for _, a in handled_by(db, handler_id=me.account.id)]
                db.expunge_all()
                return rows

        units = await run_in_threadpool(load)
        return render(request, "login_choose.html", {"me": me.account, "units": units, "interaction": interaction, "levels": {lvl.name: lvl.label for lvl in TrustLevel}})

    @router.post("/login/choose", include_in_schema=False)
    async def choose_submit(request: Request) -> Response:
        form = await read_form(request)
        interaction = form.get("interaction", "")
        me = await current(request)
        if me is None or me.account.account_type != "natural_person":
            return RedirectResponse("/login?tab=legal&handler=1", status_code=303)
        if form.get("as") == "self":
            return after_login(request, interaction)
        act = {"sub": me.account.id, "name": me.account.person_name}

        def allowed() -> bool:
            with request.app.state.db.transaction() as db:
                unit = get_account(db, account_id=form.get("legal_person_id", ""))
                return unit is not None and unit.account_type == "legal_person" and acting_level(db, legal_person=unit, act=act) is not None

        if not await run_in_threadpool(allowed):
            return RedirectResponse("/login/choose", status_code=303)
        switch_identity(request, account_id=form["legal_person_id"], act=act)
        return after_login(request, interaction)

    # -- 网银证书 / CA证书 login ------------------------------------------------------
    @router.post("/login/certificate", include_in_schema=False)
    async def certificate_login(request: Request) -> Response:
        form = await read_form(request)
        kind = form.get("kind", "")
        interaction = form.get("interaction", "")
        if kind not in KINDS:
            return RedirectResponse("/login?tab=legal", status_code=303)
        state = request.app.state

        def attempt() -> tuple[tuple[str, int] | None, str | None]:
            try:
                cert, _ = verify_submission(request, purpose=f"{kind}-login", nonce=form.get("nonce", ""), response=form.get("response", ""))
            except CertificateError as exc:
                return None, exc.message
            with state.db.transaction() as db:
                account = find_by_uscc(db, uscc=cert.uscc)
                if account is None or account.account_type != "legal_person" or account.status != "active":
                    return None, f"统一社会信用代码为 {cert.uscc} 的单位尚未注册法人账号，请先注册"
                if CERT_METHOD[kind] not in verified_methods(db, account_id=account.id):
                    return None, f"该单位尚未完成{CERT_METHOD[kind]}，请先使用账号密码登录，在“账号管理 → 实名核验”中完成核验后再使用{KINDS[kind]}登录"
                return (account.id, account.login_generation), None

        found, error = await run_in_threadpool(attempt)
        if error or found is None:
            ctx = await run_in_threadpool(lambda: login_context(request, interaction=interaction, tab="legal", method=kind, error=error))
            return render(request, "login.html", ctx, status_code=400)
        start_login(request, account_id=found[0], amr=AMR_CERT, generation=found[1])
        return after_login(request, interaction)

    # -- 微信扫码 (电子营业执照) login ---------------------------------------------------
    @router.post("/login/licence/complete", include_in_schema=False)
    async def licence_login(request: Request) -> Response:
        form = await read_form(request)
        state = request.app.state
        idp = state.idp
        claimed = await run_in_threadpool(lambda: idp.qr.claim("licence", form.get("s", ""), owner=owner_of(request)))
        interaction = form.get("interaction", "")
        if claimed is None or claimed[1].get("purpose") != "login":
            ctx = await run_in_threadpool(lambda: login_context(request, interaction=interaction, tab="legal", method="wechat", error=msg.QR_EXPIRED))
            return render(request, "login.html", ctx, status_code=400)
        result, data = claimed
        interaction = data.get("interaction") or interaction

        def sign_in() -> tuple[str, int] | None:
            now = state.clock.now()
            evidence = f"电子营业执照授权凭证（授权事项：{idp.settings.licence_scope}，凭证编号 {result['jti']}）"
            with state.db.transaction() as db:
                account = find_by_uscc(db, uscc=result["uscc"])
                if account is None:
                    # 「无需注册，微信扫码使用电子营业执照直接登录」: the licence is the registration.
                    login_name = result["uscc"] if find_by_login_name(db, login_name=result["uscc"]) is None else f"yyzz_{result['uscc'][-12:]}"
                    account = create_account(
                        db,
                        fields={
                            "account_type": "legal_person",
                            "login_name": login_name,
                            "password_hash": "!",  # no password until the unit sets one
                            "org_name": result["org_name"],
                            "uscc": result["uscc"],
                            "legal_rep_name": result.get("legal_rep_name"),
                        },
                        level=TrustLevel.L2,
                        method=msg.METHOD_LICENCE,
                        evidence="无需注册，微信扫码使用电子营业执照直接登录；" + evidence,
                        actor="电子营业执照扫码登录",
                        at=now,
                    )
                elif account.account_type == "legal_person" and account.status == "active":
                    record_verification(db, account=account, level=TrustLevel.L2, method=msg.METHOD_LICENCE, evidence="扫码登录；" + evidence, actor="电子营业执照扫码登录", at=now)
                else:
                    return None
                return account.id, account.login_generation

        found = await run_in_threadpool(sign_in)
        if found is None:
            ctx = await run_in_threadpool(lambda: login_context(request, interaction=interaction, tab="legal", method="wechat", error="该单位的账号已停用，如有疑问请拨打 12345 咨询"))
            return render(request, "login.html", ctx, status_code=400)
        start_login(request, account_id=found[0], amr=AMR_LICENCE, generation=found[1])
        return after_login(request, interaction)

    # -- 账号管理: 账号基本信息 ---------------------------------------------------------
    @router.get("/account", include_in_schema=False)
    async def account_home(request: Request) -> Response:
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
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

    return router
