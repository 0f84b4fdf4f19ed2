"""What the registration pages share: the fields of 个人注册 and 单位注册,
the password hint, 获取验证码, and the context of the 单位信息 step —
used by :mod:`.routes` and by 登录初始化 (:mod:`..federation.routes`), which
is 单位注册 with the province's claims."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.accounts.persons import get_person
from services.hrss_isso.accounts.units import CERT_TYPES, LEGAL_REP_ID_TYPE
from services.hrss_isso.registration.regions import GUANGDONG_CITIES
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.web import client_address, sms_answer
from shared.db import Database
from shared.identifiers import mask_id_number

__all__ = ["PERSON_FIELDS", "UNIT_FIELDS", "UNIT_STEPS", "secret", "common", "unit_common", "send_sms", "registrant_of", "unit_info_ctx"]

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


async def send_sms(request: Request, services: IssoServices, *, mobile: str, purpose: str) -> dict[str, Any] | JSONResponse:
    result = await run_in_threadpool(lambda: services.persons.send_code(mobile=mobile, purpose=purpose, address=client_address(request)))
    return sms_answer(request, result, mobile)


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
