"""The rules of 法人注册 and 个人注册 (the seed's part 一 (一)).

Each ``check_*`` reads a submitted form and returns the cleaned values and a
``{field: message}`` dict, so every refusal is shown next to its field.
Nothing here touches the database except :func:`duplicate_errors`; the
account is created only at step 3 (:func:`create_legal_person`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.orm import Session

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import create_account, find_by_id_number, find_by_login_name, find_by_uscc
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.registration.divisions import is_valid_region
from shared.account_rules import RuleError, check_gdzwfw_login_account, check_gdzwfw_password
from shared.identifiers import IdentifierError, validate_resident_id, validate_uscc
from shared.sms import MOBILE_MESSAGE, check_mobile
from shared.trust import TrustLevel

__all__ = [
    "check_account_fields",
    "check_legal_fields",
    "check_person_fields",
    "check_name",
    "check_email",
    "duplicate_errors",
    "create_legal_person",
    "create_natural_person",
]

# Chinese names, with the middle dot of transliterated names; letters for foreign names.
_NAME = re.compile(r"^[\u4e00-\u9fa5A-Za-z][\u4e00-\u9fa5A-Za-z·• .]{0,28}[\u4e00-\u9fa5A-Za-z]$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")


def check_name(value: str) -> str | None:
    value = (value or "").strip()
    return value if _NAME.match(value) else None


def check_email(value: str) -> str | None:
    value = (value or "").strip()
    return value if len(value) <= 254 and _EMAIL.match(value) else None


def check_account_fields(form: dict[str, str], errors: dict[str, str]) -> dict[str, str]:
    """登录账号, 登录密码, 确认密码 and the mobile number."""
    clean: dict[str, str] = {}
    login_name = form.get("login_name", "")
    try:
        check_gdzwfw_login_account(login_name)
        clean["login_name"] = login_name
    except RuleError as exc:
        errors["login_name"] = exc.message
    password = form.get("password", "")
    if not password:
        errors["password"] = msg.PASSWORD_REQUIRED
    else:
        try:
            check_gdzwfw_password(password)
            clean["password"] = password
        except RuleError as exc:
            errors["password"] = exc.message
    if form.get("password_confirm", "") != password or not password:
        errors["password_confirm"] = msg.PASSWORD_MISMATCH if form.get("password_confirm") else msg.HINT_PASSWORD_CONFIRM
    mobile = check_mobile(form.get("mobile", ""))
    if mobile is None:
        errors["mobile"] = MOBILE_MESSAGE
    else:
        clean["mobile"] = mobile
    return clean


def check_legal_fields(form: dict[str, str], *, today: dt.date) -> tuple[dict[str, str], dict[str, str]]:
    """Step 1 of 法人注册: every field of 账号信息 and 法人信息."""
    errors: dict[str, str] = {}
    clean = check_account_fields(form, errors)
    org_name = " ".join(form.get("org_name", "").split())
    if 2 <= len(org_name) <= 100:
        clean["org_name"] = org_name
    else:
        errors["org_name"] = msg.ORG_NAME_INVALID
    try:
        clean["uscc"] = validate_uscc(form.get("uscc", ""))
    except IdentifierError as exc:
        errors["uscc"] = exc.message
    province, city, district = form.get("province", ""), form.get("city", ""), form.get("district", "")
    if is_valid_region(province, city, district):
        clean.update(province=province, city=city, district=district)
    else:
        errors["region"] = msg.ADDRESS_REGION_INVALID
    detail = " ".join(form.get("address_detail", "").split())
    if 2 <= len(detail) <= 100:
        clean["address_detail"] = detail
    else:
        errors["address_detail"] = msg.ADDRESS_DETAIL_INVALID
    _check_person(form, clean, errors, ("legal_rep_name", msg.LEGAL_REP_NAME_INVALID), "legal_rep_id_number", today=today)
    return clean, errors


def check_person_fields(form: dict[str, str], *, today: dt.date) -> tuple[dict[str, str], dict[str, str]]:
    """个人注册: 姓名, 身份证号码, the account fields and the agreement."""
    errors: dict[str, str] = {}
    clean = check_account_fields(form, errors)
    _check_person(form, clean, errors, ("person_name", msg.PERSON_NAME_INVALID), "id_number", today=today)
    return clean, errors


def _check_person(
    form: dict[str, str], clean: dict[str, str], errors: dict[str, str], name: tuple[str, str], id_field: str, *, today: dt.date
) -> None:
    """The person a registration names (the legal representative, or the
    registrant of 个人注册): the name field (with its refusal), the 身份证号码
    field, and the agreement both forms end with."""
    name_field, name_refused = name
    if checked := check_name(form.get(name_field, "")):
        clean[name_field] = checked
    else:
        errors[name_field] = name_refused
    try:
        clean[id_field] = validate_resident_id(form.get(id_field, ""), today=today)
    except IdentifierError as exc:
        errors[id_field] = exc.message
    if form.get("agree") != "yes":
        errors["agree"] = msg.AGREEMENT_MISSING


def duplicate_errors(db: Session, *, login_name: str | None, uscc: str | None = None, id_number: str | None = None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if login_name and find_by_login_name(db, login_name=login_name) is not None:
        errors["login_name"] = msg.LOGIN_NAME_TAKEN
    if uscc and find_by_uscc(db, uscc=uscc) is not None:
        errors["uscc"] = msg.USCC_TAKEN
    if id_number and find_by_id_number(db, id_number=id_number) is not None:
        errors["id_number"] = msg.ID_NUMBER_TAKEN
    return errors


def create_legal_person(db: Session, *, wizard: dict[str, Any], at: dt.datetime) -> Account:
    """Step 3: the account, at 三级（原L1） by 法人基础库, with its audit entry."""
    applicant = wizard["applicant"]
    return create_account(
        db,
        fields={
            "account_type": "legal_person",
            "login_name": wizard["login_name"],
            "password_hash": wizard["password_hash"],
            "mobile": wizard["mobile"],
            "org_name": wizard["org_name"],
            "uscc": wizard["uscc"],
            "legal_rep_name": wizard["legal_rep_name"],
            "legal_rep_id_number": wizard["legal_rep_id_number"],
            "address_province": wizard["province"],
            "address_city": wizard["city"],
            "address_district": wizard["district"],
            "address_detail": wizard["address_detail"],
            "applicant_name": applicant["name"],
            "applicant_id_number": applicant["id_number"],
        },
        level=TrustLevel.L1,
        method=msg.METHOD_REGISTRY,
        evidence=f"注册时证件真实性核验：统一社会信用代码、单位名称、法定代表人姓名及证件号码与法人基础库一致；申请人{applicant['name']}已通过微信扫码人脸识别",
        actor=f"本人注册（账号 {wizard['login_name']}）",
        at=at,
    )


def create_natural_person(db: Session, *, clean: dict[str, str], password_hash: str, at: dt.datetime) -> Account:
    return create_account(
        db,
        fields={
            "account_type": "natural_person",
            "login_name": clean["login_name"],
            "password_hash": password_hash,
            "mobile": clean["mobile"],
            "person_name": clean["person_name"],
            "id_number": clean["id_number"],
        },
        level=TrustLevel.L1,
        method=msg.METHOD_POPULATION,
        evidence="注册时身份信息核验：姓名与身份证号码与人口库一致；手机号码已通过短信验证码确认",
        actor=f"本人注册（账号 {clean['login_name']}）",
        at=at,
    )
