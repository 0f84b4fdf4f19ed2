"""实名核验 (the seed's part 一 (二)): the level page and the upgrades.

* 三级（原L1）证件真实性核验 → 修改信息: re-read the unit's record in 法人基础库.
* 四级（原L2）企业/单位网银证书核验 (``certificate``), 电子营业执照核验 (``licence``).
* 五级（原L3）企业/单位CA证书核验; 办事大厅现场核验 happens at the staff console.

Only the legal person itself (not a handler acting for it) may upgrade.
Every success goes to the audit log through ``accounts.record_verification``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.deps import FormDep, IdpDep, LoggedIn, ProviderDep, VerifyingLegalPerson
from services.gdzwfw_idp.flash import flash, pop_flash
from services.gdzwfw_idp.login.sessions import SESSION_INTERACTION
from services.gdzwfw_idp.verification import registry_check
from services.gdzwfw_idp.verification.certificate import routes as certificate
from services.gdzwfw_idp.verification.licence import routes as licence
from services.gdzwfw_idp.verification.records import actor_of, verification_record
from shared.trust import TrustLevel
from shared.web.app import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LABELS = {lvl.name: lvl.label for lvl in TrustLevel}


@router.get("/account/verification")
async def verification(request: Request, me: LoggedIn, idp: IdpDep, provider: ProviderDep, interaction: str = "") -> Response:
    if interaction and await provider.interactions.aget(interaction):
        # Sent here from the "level too low" page of a login: the request
        # is offered back (返回…继续登录) once the level is reached.
        request.session[SESSION_INTERACTION] = interaction
    pending = request.session.get(SESSION_INTERACTION)
    data = await run_in_threadpool(verification_record, idp.db, account_id=me.account.id)
    parked = await provider.interactions.aget(pending) if pending else None
    return render(
        request,
        "verification.html",
        {
            "me": me,
            "account": me.account,
            "level": TrustLevel.from_name(me.account.trust_level),
            "levels": TrustLevel,
            "labels": LABELS,
            "section": "verification",
            "flash": pop_flash(request),
            "m": msg,
            "parked": parked,
            **data,
        },
    )


# -- 三级: 证件真实性核验 → 修改信息 ------------------------------------------------
@router.get("/account/verification/registry")
async def registry_page(request: Request, me: VerifyingLegalPerson, idp: IdpDep) -> Response:
    record = await run_in_threadpool(registry_check.registry_record, idp.db, uscc=me.account.uscc or "")
    context = {"me": me, "account": me.account, "record": record, "section": "verification", "flash": pop_flash(request)}
    return render(request, "verify_registry.html", context)


@router.post("/account/verification/registry")
async def registry_sync(request: Request, form: FormDep, me: VerifyingLegalPerson, idp: IdpDep) -> Response:
    problem = await run_in_threadpool(
        lambda: registry_check.recheck(idp.db, idp.clock, account_id=me.account.id, actor=actor_of(me.account.login_name))
    )
    flash(request, problem or "已按法人基础库登记信息完成核验并更新账号信息", "error" if problem else "ok")
    return RedirectResponse("/account/verification", status_code=303)


# -- 五级: 办事大厅现场核验 (the guide; staff record it) -----------------------------------
@router.get("/account/verification/hall")
async def hall_page(request: Request, me: LoggedIn) -> Response:
    return render(request, "verify_hall.html", {"me": me, "account": me.account, "section": "verification"})


# Before the certificate pages: their path ends in a {kind}.
router.include_router(licence.router)
router.include_router(certificate.router)
