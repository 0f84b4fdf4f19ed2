"""What the registration pages share: the fields of 个人注册 and 单位注册,
the password hint, 获取验证码, the context of the 单位信息 step and the two
steps' form handling — used by :mod:`.routes` and by 登录初始化
(:mod:`..federation.routes`), which is 单位注册 with the province's claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.accounts.persons import get_person
from services.hrss_isso.accounts.units import CERT_TYPES, LEGAL_REP_ID_TYPE, ProvincialClaims
from services.hrss_isso.forms import FormRejected, text_of
from services.hrss_isso.models import Unit
from services.hrss_isso.registration.regions import GUANGDONG_CITIES
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.web import client_address, page, sms_response
from shared.db import Database
from shared.identifiers import mask_id_number
from shared.sms import mask_mobile

__all__ = [
    "PERSON_FIELDS",
    "UNIT_FIELDS",
    "UNIT_STEPS",
    "secret",
    "common",
    "unit_common",
    "send_sms",
    "registrant_of",
    "unit_info_ctx",
    "check_registrant",
    "submit_unit_info",
]

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


def secret(form, name: str) -> str:
    value = form.get(name)
    return value[:64] if isinstance(value, str) else ""


def common(services: IssoServices) -> dict[str, Any]:
    n = services.settings.password_max_keyboard_run
    return {"password_hint": f"8-30位，须包含大写字母、小写字母、数字中至少3种，且不能在键盘上连续超过{n}个字符", "max_run": n}


def unit_common(services: IssoServices) -> dict[str, Any]:
    return {**common(services), "steps": UNIT_STEPS}


async def send_sms(
    request: Request, services: IssoServices, *, mobile: str, purpose: str, template: str, context: dict[str, Any]
) -> Response:
    """获取验证码 on a registration or recovery page: the code sent to
    ``mobile``, and the answer (:func:`~services.hrss_isso.web.sms_response`)."""
    result = await run_in_threadpool(lambda: services.persons.send_code(mobile=mobile, purpose=purpose, address=client_address(request)))
    return sms_response(request, result, sent_to=mask_mobile(mobile), template=template, context=context)


def registrant_of(db: Database, person_id: str) -> dict | None:
    """单位所属实名人员: the person who registers the unit, as the page shows them."""
    with db.transaction() as s:
        person = get_person(s, person_id=person_id)
        if person is None:
            return None
        return {"id": person.id, "name": person.name, "login_name": person.login_name, "masked_id": mask_id_number(person.id_number)}


def unit_info_ctx(services: IssoServices, who: dict, values: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        **unit_common(services),
        "registrant": who,
        "values": values,
        "cert_types": CERT_TYPES,
        "regions": {code: f"广东省 {name}" for code, name in GUANGDONG_CITIES.items()},
        "legal_rep_id_type": LEGAL_REP_ID_TYPE,
        "sms_ok": None,
        "sms_message": "",
        **extra,
    }


async def check_registrant(request: Request, form, services: IssoServices) -> tuple[dict[str, str], str | None, dict | None]:
    """Step 1 (单位所属实名人员信息) posted: the form's values, and the
    registrant's person id or the errors to show with the values."""
    values = {"login_name": text_of(form, "login_name", 40), "id_number": text_of(form, "id_number", 20)}
    try:
        person_id = await run_in_threadpool(
            lambda: services.units.check_registrant(
                login_name=values["login_name"], id_number=values["id_number"], address=client_address(request)
            )
        )
    except FormRejected as rejected:
        return values, None, rejected.errors
    return values, person_id, None


async def submit_unit_info(
    request: Request,
    form,
    services: IssoServices,
    *,
    who: dict,
    values: dict[str, str],
    context: Callable[..., dict[str, Any]],
    done: Callable[[Unit], str],
    provincial: ProvincialClaims | None = None,
) -> Response:
    """Step 2 (单位信息) posted with ``values`` read from the form: 获取验证码
    answered, or the unit registered (``done`` keeps it in the session and
    says where to go), or the page again with the errors. ``context(values,
    **extra)`` is the page's context."""
    if form.get("action") == "send_sms":
        mobile = values["legal_rep_mobile"]
        return await send_sms(
            request, services, mobile=mobile, purpose="register_unit", template="unit_register_step2.html", context=context(values)
        )
    data = {**values, "password": secret(form, "password"), "password2": secret(form, "password2")}
    try:
        unit = await run_in_threadpool(lambda: services.units.register(person_id=who["id"], form=data, provincial=provincial))
    except FormRejected as rejected:
        return page(request, "unit_register_step2.html", context(values), errors=rejected.errors)
    return RedirectResponse(done(unit), status_code=303)
