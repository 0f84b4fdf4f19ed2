"""Login and account pages of 广东省统一身份认证平台 (the seed's part 一)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.accounts import get_account, latest_level_changes
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT, SESSION_AMR, SESSION_AUTH_TIME, SESSION_SID
from services.gdzwfw_idp.login import LoginService
from shared.identifiers import mask_id_number
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = ["pages_router"]

TABS = {"personal": "个人登录", "legal": "法人登录"}
LEGAL_METHODS = {"wechat": "微信扫码", "password": "账号密码", "bank": "网银证书", "ca": "CA证书"}
PERSONAL_METHODS = {"password": "账号密码"}


def pages_router() -> APIRouter:
    router = APIRouter()

    def login_context(request: Request, *, interaction: str, tab: str, method: str, error: str | None = None, login_name: str = "") -> dict[str, Any]:
        parked = request.app.state.provider.interactions.get(interaction) if interaction else None
        return {
            "interaction": interaction if parked else "",
            "client_name": parked.client_name if parked else None,
            "tab": tab,
            "tabs": TABS,
            "method": method,
            "methods": LEGAL_METHODS if tab == "legal" else PERSONAL_METHODS,
            "error": error,
            "login_name": login_name,
        }

    @router.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        target = "/account" if request.session.get(SESSION_ACCOUNT) else "/login"
        return RedirectResponse(target, status_code=303)

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, interaction: str = "", tab: str = "legal", method: str = "password") -> Response:
        tab = tab if tab in TABS else "legal"
        methods = LEGAL_METHODS if tab == "legal" else PERSONAL_METHODS
        method = method if method in methods else "password"
        ctx = await run_in_threadpool(lambda: login_context(request, interaction=interaction, tab=tab, method=method))
        return render(request, "login.html", ctx)

    @router.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        interaction = str(form.get("interaction", ""))
        tab = str(form.get("tab", "legal"))
        tab = tab if tab in TABS else "legal"
        login_name = str(form.get("login_name", ""))[:40]
        password = str(form.get("password", ""))[:128]
        state = request.app.state
        service: LoginService = state.login_service
        address = request.client.host if request.client else "-"

        def attempt() -> tuple[str | None, str | None]:
            result = service.authenticate(
                state.db,
                login_name=login_name,
                password=password,
                account_type="legal_person" if tab == "legal" else "natural_person",
                address=address,
            )
            return (result.account.id if result.account else None), result.error

        account_id, error = await run_in_threadpool(attempt)
        if error or not account_id:
            ctx = await run_in_threadpool(lambda: login_context(request, interaction=interaction, tab=tab, method="password", error=error, login_name=login_name))
            return render(request, "login.html", ctx, status_code=400)
        rotate_session(request)
        request.session[SESSION_ACCOUNT] = account_id
        request.session[SESSION_AUTH_TIME] = state.clock.timestamp()
        request.session[SESSION_AMR] = ["pwd"]
        request.session[SESSION_SID] = state.tokens.token(16)
        if interaction:
            return RedirectResponse(f"/authorize/resume?interaction={interaction}", status_code=303)
        return RedirectResponse("/account", status_code=303)

    def current_account(request: Request):
        account_id = request.session.get(SESSION_ACCOUNT)
        if not account_id:
            return None
        with request.app.state.db.transaction() as db:
            account = get_account(db, account_id=account_id)
            changes = latest_level_changes(db, account_id=account_id) if account else []
            db.expunge_all()
        return (account, changes) if account else None

    @router.get("/account", include_in_schema=False)
    async def account_home(request: Request) -> Response:
        found = await run_in_threadpool(current_account, request)
        if found is None:
            return RedirectResponse("/login", status_code=303)
        account, _ = found
        return render(request, "account.html", {"account": account, "level": TrustLevel.from_name(account.trust_level), "masked_rep_id": mask_id_number(account.legal_rep_id_number or account.id_number or ""), "section": "basic"})

    @router.get("/account/verification", include_in_schema=False)
    async def verification(request: Request) -> Response:
        found = await run_in_threadpool(current_account, request)
        if found is None:
            return RedirectResponse("/login", status_code=303)
        account, changes = found
        return render(
            request,
            "verification.html",
            {"account": account, "level": TrustLevel.from_name(account.trust_level), "changes": changes, "levels": TrustLevel, "section": "verification"},
        )

    return router
