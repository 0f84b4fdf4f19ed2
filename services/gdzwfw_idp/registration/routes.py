"""法人注册 (1 输入基础信息 → 2 实名核验 → 3 注册完成), 个人注册, and the agreements.

The wizard lives in the shared store (``wizard``) until step 3 creates the
account: abandoning or failing a step leaves nothing in the account tables.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.deps import FormDep, IdpDep, OwnerDep
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.qr.codes import masked_person, new_qr
from services.gdzwfw_idp.registration.applications import check_legal_step1, create_legal_account, register_person
from services.gdzwfw_idp.registration.divisions import cities_of, divisions
from services.gdzwfw_idp.registration.rules import check_legal_fields, check_person_fields
from services.gdzwfw_idp.registration.wizard import clear_wizard, load_wizard, save_wizard
from shared.identifiers import mask_id_number
from shared.sms import mask_mobile
from shared.trust import TrustLevel
from shared.web.app import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

LEGAL_STEPS = ("输入基础信息", "实名核验", "注册完成")
REG_DONE = "reg_done"
# Non-secret fields a returning user finds filled in again.
_KEEP = (
    "login_name",
    "org_name",
    "uscc",
    "province",
    "city",
    "district",
    "address_detail",
    "legal_rep_name",
    "legal_rep_id_number",
    "mobile",
)


def _region_lists(values: dict[str, str]) -> dict[str, Any]:
    cities = cities_of(values.get("province", ""))
    districts = next((c["districts"] for c in cities if c["name"] == values.get("city")), [])
    return {"provinces": divisions()["provinces"], "cities": cities, "districts": districts}


# -- 法人注册 step 1: 输入基础信息 ----------------------------------------------
async def legal_context(
    idp: IdpParts, owner: str, wizard: dict[str, Any], *, errors: dict[str, str], values: dict[str, str]
) -> dict[str, Any]:
    applicant = wizard.get("applicant")
    return {
        "steps": LEGAL_STEPS,
        "errors": errors,
        "v": values,
        "regions": _region_lists(values),
        "divisions": divisions(),
        "qr": await new_qr(idp, owner=owner, kind="face", data={"purpose": "register"}),
        "applicant": masked_person(applicant["name"], applicant["id_number"]) if applicant else None,
        "mobile_verified": wizard.get("mobile_verified"),
        "interaction": wizard.get("interaction", ""),
        "register_tab": "legal",
    }


@router.get("/register")
async def register_home(interaction: str = "") -> Response:
    suffix = f"?interaction={interaction}" if interaction else ""
    return RedirectResponse(f"/register/legal{suffix}", status_code=303)


@router.get("/register/legal")
async def legal_step1(request: Request, owner: OwnerDep, idp: IdpDep, interaction: str = "") -> Response:
    wizard = await run_in_threadpool(lambda: load_wizard(idp, owner=owner))
    if interaction:
        wizard["interaction"] = interaction[:64]
    await run_in_threadpool(lambda: save_wizard(idp, owner=owner, wizard=wizard))
    values = dict(wizard.get("form") or {"province": "广东省"})
    ctx = await legal_context(idp, owner, wizard, errors={}, values=values)
    return render(request, "register_legal.html", ctx)


@router.post("/register/legal")
async def legal_step1_submit(request: Request, form: FormDep, owner: OwnerDep, idp: IdpDep) -> Response:
    wizard = await run_in_threadpool(lambda: load_wizard(idp, owner=owner))
    clean, errors = check_legal_fields(form, today=idp.clock.now().date())
    await run_in_threadpool(lambda: check_legal_step1(idp, wizard, clean, sms_code=form.get("sms_code", ""), errors=errors))
    wizard["form"] = {k: form.get(k, "") for k in _KEEP}
    if errors:
        await run_in_threadpool(lambda: save_wizard(idp, owner=owner, wizard=wizard))
        ctx = await legal_context(idp, owner, wizard, errors=errors, values=wizard["form"])
        return render(request, "register_legal.html", ctx, status_code=400)
    password_hash = await run_in_threadpool(idp.passwords.hash, clean.pop("password"))
    wizard.update(clean, password_hash=password_hash, step=2)
    await run_in_threadpool(lambda: save_wizard(idp, owner=owner, wizard=wizard))
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


@router.get("/register/legal/verify")
async def legal_step2(request: Request, owner: OwnerDep, idp: IdpDep) -> Response:
    wizard = await run_in_threadpool(lambda: load_wizard(idp, owner=owner))
    if wizard.get("step") != 2:
        return RedirectResponse("/register/legal", status_code=303)
    return render(request, "register_verify.html", verify_context(wizard, {}))


@router.post("/register/legal/verify")
async def legal_step2_submit(request: Request, form: FormDep, owner: OwnerDep, idp: IdpDep) -> Response:
    wizard = await run_in_threadpool(lambda: load_wizard(idp, owner=owner))
    if wizard.get("step") != 2:
        return RedirectResponse("/register/legal", status_code=303)
    errors = await run_in_threadpool(create_legal_account, idp, wizard)
    if errors:
        return render(request, "register_verify.html", verify_context(wizard, errors), status_code=400)
    await run_in_threadpool(lambda: clear_wizard(idp, owner=owner))
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
@router.get("/register/done")
async def done(request: Request) -> Response:
    info = request.session.get(REG_DONE)
    if not info:
        return RedirectResponse("/register/legal", status_code=303)
    tab = "legal" if info["account_type"] == "legal_person" else "personal"
    return render(
        request,
        "register_done.html",
        {"steps": LEGAL_STEPS, "info": info, "level": TrustLevel.from_name(info["level"]), "register_tab": tab},
    )


# -- 个人注册 ---------------------------------------------------------------------
@router.get("/register/personal")
async def personal(request: Request, interaction: str = "") -> Response:
    return render(request, "register_personal.html", {"errors": {}, "v": {}, "interaction": interaction[:64], "register_tab": "personal"})


@router.post("/register/personal")
async def personal_submit(request: Request, form: FormDep, idp: IdpDep) -> Response:
    clean, errors = check_person_fields(form, today=idp.clock.now().date())
    password_hash = await run_in_threadpool(idp.passwords.hash, clean["password"]) if not errors else None
    account_id = await run_in_threadpool(
        lambda: register_person(idp, clean, password_hash=password_hash, sms_code=form.get("sms_code", ""), errors=errors)
    )
    interaction = form.get("interaction", "")[:64]
    if errors or not account_id:
        values = {k: form.get(k, "") for k in ("login_name", "person_name", "id_number", "mobile")}
        context = {"errors": errors, "v": values, "interaction": interaction, "register_tab": "personal"}
        return render(request, "register_personal.html", context, status_code=400)
    request.session[REG_DONE] = {
        "account_type": "natural_person",
        "login_name": clean["login_name"],
        "person_name": clean["person_name"],
        "level": TrustLevel.L1.name,
        "method": msg.METHOD_POPULATION,
        "interaction": interaction,
    }
    return RedirectResponse("/register/done", status_code=303)


# -- 《用户服务协议》《隐私政策》 ----------------------------------------------------
@router.get("/agreement/{name}")
async def agreement(request: Request, name: str) -> Response:
    if name not in ("service", "privacy"):
        return RedirectResponse("/agreement/service", status_code=303)
    return render(request, "agreement.html", {"name": name})
