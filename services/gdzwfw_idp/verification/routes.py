"""实名核验 (the seed's part 一 (二)): the level page and the upgrades.

* 三级（原L1）证件真实性核验 → 修改信息: re-read the unit's record in 法人基础库.
* 四级（原L2）企业/单位网银证书核验, 电子营业执照核验.
* 五级（原L3）企业/单位CA证书核验; 办事大厅现场核验 happens at the staff console.

Only the legal person itself (not a handler acting for it) may upgrade.
Every success goes to the audit log through ``accounts.record_verification``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import bind_certificate, get_account, latest_level_changes, record_verification, verified_methods
from services.gdzwfw_idp.login.sessions import SESSION_INTERACTION, Current, current, flash, owner_of, pop_flash, read_form
from services.gdzwfw_idp.models import CertificateBinding
from services.gdzwfw_idp.qr.routes import new_qr
from services.gdzwfw_idp.registry import find_legal_person
from services.gdzwfw_idp.verification.certificate.challenge import issue_challenge, verify_submission
from services.gdzwfw_idp.verification.certificate.verifier import KINDS, CertificateError
from services.gdzwfw_idp.verification.licence.assertions import accept_assertion
from shared.trust import TrustLevel
from shared.web.app import error_page, render

__all__ = ["verification_router"]

CERT_METHODS = {"bank": msg.METHOD_BANK_CERT, "ca": msg.METHOD_CA_CERT}
CERT_LEVELS = {"bank": TrustLevel.L2, "ca": TrustLevel.L3}


def _actor(me: Current) -> str:
    return f"本人（账号 {me.account.login_name}）"


def verification_router() -> APIRouter:
    router = APIRouter()

    async def own_legal_person(request: Request) -> Current | Response:
        """The logged-in legal person itself, or the page explaining why not."""
        me = await current(request)
        if me is None:
            return RedirectResponse("/login?tab=legal", status_code=303)
        if me.acting:
            return error_page(request, 403, msg.HANDLER_ONLY_OWN, back_url="/account/verification")
        if me.account.account_type != "legal_person":
            return error_page(request, 403, "个人账号请通过人脸识别等个人核验方式升级；本页面的核验方式仅适用于法人账号。", back_url="/account/verification")
        return me

    # -- the 实名核验 page -------------------------------------------------------------
    @router.get("/account/verification", include_in_schema=False)
    async def verification(request: Request, interaction: str = "") -> Response:
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        state = request.app.state
        if interaction and await run_in_threadpool(state.provider.interactions.get, interaction):
            # Sent here from the "level too low" page of a login: the request
            # is offered back (返回…继续登录) once the level is reached.
            request.session[SESSION_INTERACTION] = interaction
        pending = request.session.get(SESSION_INTERACTION)

        def load() -> dict[str, Any]:
            with state.db.transaction() as db:
                changes = latest_level_changes(db, account_id=me.account.id, limit=20)
                done = verified_methods(db, account_id=me.account.id)
                bindings = list(db.execute(select(CertificateBinding).where(CertificateBinding.account_id == me.account.id).order_by(CertificateBinding.id.desc())).scalars())
                db.expunge_all()
            parked = state.provider.interactions.get(pending) if pending else None
            return {"changes": changes, "done": done, "bindings": bindings, "parked": parked}

        data = await run_in_threadpool(load)
        return render(
            request,
            "verification.html",
            {
                "me": me,
                "account": me.account,
                "level": TrustLevel.from_name(me.account.trust_level),
                "levels": TrustLevel,
                "labels": {lvl.name: lvl.label for lvl in TrustLevel},
                "section": "verification",
                "flash": pop_flash(request),
                "m": msg,
                **data,
            },
        )

    # -- 三级: 证件真实性核验 → 修改信息 ------------------------------------------------
    @router.get("/account/verification/registry", include_in_schema=False)
    async def registry_page(request: Request) -> Response:
        me = await own_legal_person(request)
        if isinstance(me, Response):
            return me

        def load():
            with request.app.state.db.transaction() as db:
                record = find_legal_person(db, uscc=me.account.uscc or "")
                if record is not None:
                    db.expunge(record)
                return record

        record = await run_in_threadpool(load)
        return render(request, "verify_registry.html", {"me": me, "account": me.account, "record": record, "section": "verification", "flash": pop_flash(request)})

    @router.post("/account/verification/registry", include_in_schema=False)
    async def registry_sync(request: Request) -> Response:
        await read_form(request)
        me = await own_legal_person(request)
        if isinstance(me, Response):
            return me
        state = request.app.state

        def sync() -> str | None:
            with state.db.transaction() as db:
                account = get_account(db, account_id=me.account.id)
                record = find_legal_person(db, uscc=account.uscc or "")
                if record is None:
                    return msg.REGISTRY_NOT_FOUND
                if record.status != "存续":
                    return msg.REGISTRY_CLOSED.format(status=record.status)
                changed = [f for f, new in (("单位名称", record.org_name), ("法定代表人", record.legal_rep_name)) if new != (account.org_name if f == "单位名称" else account.legal_rep_name)]
                account.org_name, account.legal_rep_name, account.legal_rep_id_number = record.org_name, record.legal_rep_name, record.legal_rep_id_number
                record_verification(
                    db,
                    account=account,
                    level=TrustLevel.L1,
                    method=msg.METHOD_REGISTRY,
                    evidence="证件真实性核验（修改信息）：按法人基础库更新" + ("、".join(changed) if changed else "，信息无变化"),
                    actor=_actor(me),
                    at=state.clock.now(),
                )
            return None

        problem = await run_in_threadpool(sync)
        flash(request, problem or "已按法人基础库登记信息完成核验并更新账号信息", "error" if problem else "ok")
        return RedirectResponse("/account/verification", status_code=303)

    # -- 网银证书 / CA证书 ------------------------------------------------------------------
    def cert_context(request: Request, me: Current, kind: str, error: str | None = None) -> dict[str, Any]:
        return {
            "me": me,
            "account": me.account,
            "kind": kind,
            "method": kind,
            "method_name": CERT_METHODS[kind],
            "cert_label": KINDS[kind],
            "target": CERT_LEVELS[kind],
            "challenge": issue_challenge(request, f"{kind}-verify"),
            "configured": request.app.state.idp.certificates.configured(kind),
            "dev_certs": request.app.state.settings.is_development,
            "ca_helper": request.app.state.settings.ca_helper,
            "error": error,
            "section": "verification",
        }

    @router.get("/account/verification/{kind}", include_in_schema=False)
    async def cert_page(request: Request, kind: str) -> Response:
        if kind == "licence":
            return await licence_page(request)
        if kind == "hall":
            return await hall_page(request)
        if kind not in KINDS:
            return error_page(request, 404, "您访问的页面不存在")
        me = await own_legal_person(request)
        if isinstance(me, Response):
            return me
        ctx = await run_in_threadpool(cert_context, request, me, kind)
        return render(request, "verify_certificate.html", ctx)

    @router.post("/account/verification/{kind}", include_in_schema=False)
    async def cert_submit(request: Request, kind: str) -> Response:
        form = await read_form(request)
        if kind not in KINDS:
            return error_page(request, 404, "您访问的页面不存在")
        me = await own_legal_person(request)
        if isinstance(me, Response):
            return me
        state = request.app.state

        def attempt() -> str | None:
            try:
                cert, _ = verify_submission(request, purpose=f"{kind}-verify", nonce=form.get("nonce", ""), response=form.get("response", ""))
            except CertificateError as exc:
                return exc.message
            if cert.uscc != me.account.uscc:
                return f"证书中的统一社会信用代码（{cert.uscc}）与本账号的单位/企业证件号码不一致，请使用本单位的{KINDS[kind]}"
            with state.db.transaction() as db:
                account = get_account(db, account_id=me.account.id)
                now = state.clock.now()
                bind_certificate(db, account=account, kind=kind, cert=cert, at=now)
                record_verification(
                    db,
                    account=account,
                    level=CERT_LEVELS[kind],
                    method=CERT_METHODS[kind],
                    evidence=f"{KINDS[kind]}签名核验通过：颁发者 {cert.issuer}；证书序列号 {cert.serial_hex}；有效期至 {cert.not_after:%Y-%m-%d}；证书载明统一社会信用代码 {cert.uscc}",
                    actor=_actor(me),
                    at=now,
                )
            return None

        error = await run_in_threadpool(attempt)
        if error:
            ctx = await run_in_threadpool(lambda: cert_context(request, me, kind, error))
            return render(request, "verify_certificate.html", ctx, status_code=400)
        flash(request, f"{CERT_METHODS[kind]}成功。核验后可使用“{KINDS[kind]}”方式登录。")
        return RedirectResponse("/account/verification", status_code=303)

    # -- 电子营业执照核验 -------------------------------------------------------------------
    async def licence_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
        me = await own_legal_person(request)
        if isinstance(me, Response):
            return me
        qr = await run_in_threadpool(lambda: new_qr(request, "licence", {"purpose": "verify", "account_id": me.account.id}))
        return render(
            request,
            "verify_licence.html",
            {"me": me, "account": me.account, "qr": qr, "error": error, "scope": request.app.state.idp.settings.licence_scope, "configured": request.app.state.idp.licence.configured(), "section": "verification"},
            status_code=status_code,
        )

    @router.post("/account/verification/licence/complete", include_in_schema=False)
    async def licence_complete(request: Request) -> Response:
        form = await read_form(request)
        me = await own_legal_person(request)
        if isinstance(me, Response):
            return me
        state = request.app.state
        idp = state.idp
        claimed = await run_in_threadpool(lambda: idp.qr.claim("licence", form.get("s", ""), owner=owner_of(request)))
        if claimed is None or claimed[1].get("purpose") != "verify" or claimed[1].get("account_id") != me.account.id:
            return await licence_page(request, msg.QR_EXPIRED, 400)
        result, _ = claimed
        if result["uscc"] != me.account.uscc:
            return await licence_page(request, f"电子营业执照的统一社会信用代码（{result['uscc']}）与本账号的单位/企业证件号码不一致，请选择本单位的电子营业执照", 400)

        def raise_level() -> None:
            with state.db.transaction() as db:
                account = get_account(db, account_id=me.account.id)
                record_verification(
                    db,
                    account=account,
                    level=TrustLevel.L2,
                    method=msg.METHOD_LICENCE,
                    evidence=f"电子营业执照核验通过：{result['org_name']}（{result['uscc']}），授权事项“{idp.settings.licence_scope}”，凭证编号 {result['jti']}",
                    actor=_actor(me),
                    at=state.clock.now(),
                )

        await run_in_threadpool(raise_level)
        flash(request, "电子营业执照核验成功。")
        return RedirectResponse("/account/verification", status_code=303)

    async def hall_page(request: Request) -> Response:
        me = await current(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        return render(request, "verify_hall.html", {"me": me, "account": me.account, "section": "verification"})

    # -- the licence wallet's callback (server to server; authenticated by the signature) --
    @router.post("/licence/callback", include_in_schema=False)
    async def licence_callback(request: Request) -> JSONResponse:
        form = await request.form()
        token, sid = str(form.get("assertion", "")), str(form.get("sid", ""))
        if not token or not sid or len(token) > 8000:
            return JSONResponse({"error": "invalid_request", "message": "缺少授权凭证"}, status_code=400)
        accepted = await run_in_threadpool(lambda: accept_assertion(request.app.state.idp, token=token, sid=sid))
        if not accepted.ok:
            return JSONResponse({"error": accepted.code, "message": accepted.message}, status_code=400)
        return JSONResponse({"status": "approved", "message": accepted.message})

    return router
