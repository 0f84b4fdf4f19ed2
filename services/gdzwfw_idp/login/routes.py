"""Login pages of 广东省统一身份认证平台 (the seed's part 一).

法人登录 offers the seed's four ways: 微信扫码 (电子营业执照), 账号密码,
网银证书 and CA证书, plus 经办人登录 (a natural person's account acting for a
legal person it handles). 个人登录: 账号密码.

The login page and ``POST /login`` are on the benchmark's path: plain routes
(no dependency injection, :mod:`shared.web.plain_pages`) that touch the
session only to log in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import FormDep, HandlerPerson, IdpDep, OwnerDep, browser_owner, client_address, form_fields, get_idp
from services.gdzwfw_idp.handlers.relations import act_for, units_handled_by
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT
from services.gdzwfw_idp.login.password_login import password_login
from services.gdzwfw_idp.login.sessions import after_login, start_login, switch_identity
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.qr.codes import QrView, new_qr
from services.gdzwfw_idp.verification.certificate import service as certificate
from services.gdzwfw_idp.verification.certificate.challenge import issue_challenge
from services.gdzwfw_idp.verification.certificate.verifier import KINDS
from services.gdzwfw_idp.verification.licence import service as licence
from shared.metrics import record_login
from shared.oauth.provider.interaction import Interaction, Interactions
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.deps import csrf_form
from shared.web.plain_pages import plain_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

TABS = {"personal": "个人登录", "legal": "法人登录"}
LEGAL_METHODS = {"wechat": "微信扫码", "password": "账号密码", "bank": "网银证书", "ca": "CA证书"}
PERSONAL_METHODS = {"password": "账号密码"}


def _qr_login(interaction: str) -> dict[str, str]:
    """What a 微信扫码 login's QR session carries: the login request it answers."""
    return {"purpose": "login", "interaction": interaction}


async def login_context(
    idp: IdpParts,
    *,
    owner: str,
    parked: Interaction | None,
    tab: str,
    method: str,
    error: str | None = None,
    login_name: str = "",
    handler: bool = False,
    qr: QrView | None = None,
) -> dict[str, Any]:
    """The login page; a QR code (``qr`` when already made for ``parked``) or
    a certificate challenge for those methods (``owner`` then names the browser)."""
    interaction = parked.id if parked else ""
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
        ctx["qr"] = qr or await new_qr(idp, owner=owner, kind="licence", data=_qr_login(interaction))
    elif method in KINDS:
        ctx["challenge"] = await issue_challenge(idp, owner=owner, purpose=f"{method}-login")
        ctx["cert_label"] = KINDS[method]
        ctx["dev_certs"] = idp.settings.is_development
        ctx["ca_helper"] = idp.settings.ca_helper
    return ctx


async def login_page_again(
    request: Request, idp: IdpParts, *, status_code: int = 400, method: str, interaction: str, **fields: Any
) -> Response:
    """The login page once more, with why the attempt failed."""
    owner = await browser_owner(request, idp) if method != "password" else ""
    qr = None
    if method == "wechat" and Interactions.looks_like_id(interaction):
        # The interaction's read and the QR session's write are two round
        # trips that need not wait for each other (法人登录 opens here). A QR
        # naming an interaction that has ended would end its login on
        # 登录已超时: then it is not shown, and login_context makes one for
        # no interaction (the unused one expires unseen).
        parked, qr = await asyncio.gather(
            idp.provider.interactions.aget(interaction),
            new_qr(idp, owner=owner, kind="licence", data=_qr_login(interaction)),
        )
        qr = qr if parked is not None else None
    else:
        parked = await idp.provider.interactions.aget(interaction) if interaction else None
    ctx = await login_context(idp, owner=owner, method=method, parked=parked, qr=qr, **fields)
    return render(request, "login.html", ctx, status_code=status_code)


@router.get("/")
async def home(request: Request) -> Response:
    target = "/account" if request.session.get(SESSION_ACCOUNT) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/help")
async def help_page(request: Request) -> Response:
    return render(request, "help.html", {})


# The login page and POST /login are plain routes (shared.web.plain_pages): every login passes both.
@plain_page(router, "/login", methods=["GET"])
async def login_page(request: Request) -> Response:
    query = request.query_params
    tab = query.get("tab", "legal")
    tab = tab if tab in TABS else "legal"
    methods = LEGAL_METHODS if tab == "legal" else PERSONAL_METHODS
    handler = query.get("handler", "")
    # The seed's 法人登录 opens on 微信扫码 (「请您使用【微信】扫码登录」); 经办人登录 and 个人登录 are password forms.
    opening = "password" if tab != "legal" or handler == "1" else "wechat"
    method = query.get("method", "")
    method = method if method in methods else opening
    as_handler = handler == "1" and method == "password"
    return await login_page_again(
        request,
        await get_idp(request),
        status_code=200,
        method=method,
        interaction=query.get("interaction", ""),
        tab=tab,
        login_name=query.get("login_name", "")[:40],
        handler=as_handler,
    )


@plain_page(router, "/login", methods=["POST"])
async def login_submit(request: Request) -> Response:
    form = await form_fields(await csrf_form(request))
    idp, address = await get_idp(request), await client_address(request)
    interaction = form.get("interaction", "")
    tab = form.get("tab", "legal")
    tab = tab if tab in TABS else "legal"
    as_handler = tab == "legal" and form.get("handler") == "1"
    login_name = form.get("login_name", "")[:40]
    password = form.get("password", "")[:128]
    result = await password_login(
        idp.login_service,
        idp.db,
        tab=tab,
        as_handler=as_handler,
        login_name=login_name,
        password=password,
        address=address,
        hotline=idp.settings.hotline,
    )
    account = result.account
    if result.error or account is None:
        record_login("password", "failure")
        return await login_page_again(
            request, idp, method="password", interaction=interaction, tab=tab, error=result.error, login_name=login_name, handler=as_handler
        )
    # The generation read with the password hash that was checked.
    start_login(request, idp, account_id=account.id, amr=["pwd"], generation=account.login_generation)
    record_login("password", "success")
    if as_handler:
        suffix = f"?interaction={interaction}" if interaction else ""
        return RedirectResponse(f"/login/choose{suffix}", status_code=303)
    return after_login(request, interaction)


# -- 经办人登录: choose the legal person to act for ------------------------------
@router.get("/login/choose")
async def choose(request: Request, me: HandlerPerson, idp: IdpDep, interaction: str = "") -> Response:
    units = await run_in_threadpool(units_handled_by, idp.db, person_id=me.account.id)
    levels = {lvl.name: lvl.label for lvl in TrustLevel}
    return render(request, "login_choose.html", {"me": me.account, "units": units, "interaction": interaction, "levels": levels})


@router.post("/login/choose")
async def choose_submit(request: Request, form: FormDep, me: HandlerPerson, idp: IdpDep) -> Response:
    interaction = form.get("interaction", "")
    if form.get("as") == "self":
        return after_login(request, interaction)
    unit_id = form.get("legal_person_id", "")
    act = await run_in_threadpool(lambda: act_for(idp.db, person_id=me.account.id, legal_person_id=unit_id))
    if act is None:
        return RedirectResponse("/login/choose", status_code=303)
    switch_identity(request, idp, account_id=unit_id, act=act)
    return after_login(request, interaction)


# -- 网银证书 / CA证书 login ------------------------------------------------------
@router.post("/login/certificate")
async def certificate_login(request: Request, form: FormDep, owner: OwnerDep, idp: IdpDep) -> Response:
    kind = form.get("kind", "")
    interaction = form.get("interaction", "")
    if kind not in KINDS:
        return RedirectResponse("/login?tab=legal", status_code=303)
    nonce, response = form.get("nonce", ""), form.get("response", "")
    found, error = await run_in_threadpool(lambda: certificate.login_account(idp, owner=owner, kind=kind, nonce=nonce, response=response))
    if error or found is None:
        record_login(kind, "failure")  # bank or ca: one of KINDS, checked above
        return await login_page_again(request, idp, method=kind, interaction=interaction, tab="legal", error=error)
    start_login(request, idp, account_id=found[0], amr=certificate.AMR, generation=found[1])
    record_login(kind, "success")
    return after_login(request, interaction)


# -- 微信扫码 (电子营业执照) login ---------------------------------------------------
@router.post("/login/licence/complete")
async def licence_login(request: Request, form: FormDep, owner: OwnerDep, idp: IdpDep) -> Response:
    result = await run_in_threadpool(lambda: licence.login(idp, owner=owner, sid=form.get("s", "")))
    interaction = result.interaction or form.get("interaction", "")
    if result.error or result.account is None:
        record_login("wechat", "failure")
        return await login_page_again(request, idp, method="wechat", interaction=interaction, tab="legal", error=result.error)
    start_login(request, idp, account_id=result.account[0], amr=licence.AMR, generation=result.account[1])
    record_login("wechat", "success")
    return after_login(request, interaction)
