"""The steps of 法人注册 and 个人注册 that touch the database: the checks
beyond the form's own rules (``rules``), and creating the account.

Each answers with ``{field: message}`` errors (empty on success), so every
refusal is shown next to its field.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.registration.rules import create_legal_person, create_natural_person, duplicate_errors
from services.gdzwfw_idp.registry import check_legal_person, check_person

__all__ = ["check_legal_step1", "create_legal_account", "register_person"]


def check_legal_step1(idp: IdpParts, wizard: dict[str, Any], clean: dict[str, str], *, sms_code: str, errors: dict[str, str]) -> None:
    """Step 1 beyond the form: the login name and unit are free, and the
    mobile number is proven by its code once (the wizard remembers it)."""
    with idp.db.transaction() as db:
        for field, message in duplicate_errors(db, login_name=clean.get("login_name"), uscc=clean.get("uscc")).items():
            errors.setdefault(field, message)
        mobile = clean.get("mobile")
        if mobile and wizard.get("mobile_verified") != mobile:
            if not sms_code:
                errors["sms_code"] = msg.SMS_CODE_MISSING
            elif problem := idp.sms.verify(db, mobile=mobile, purpose="register-legal", code=sms_code):
                errors["sms_code"] = problem
            else:
                wizard["mobile_verified"] = mobile
    if not wizard.get("applicant"):
        errors["applicant"] = msg.APPLICANT_MISSING


def create_legal_account(idp: IdpParts, wizard: dict[str, Any]) -> dict[str, str]:
    """Step 2 (实名核验 against 法人基础库), then the account, at 三级（原L1）."""
    try:
        with idp.db.transaction() as db:
            mismatch = check_legal_person(
                db,
                uscc=wizard["uscc"],
                org_name=wizard["org_name"],
                legal_rep_name=wizard["legal_rep_name"],
                legal_rep_id_number=wizard["legal_rep_id_number"],
            )
            if mismatch is not None:
                return mismatch.errors
            duplicates = duplicate_errors(db, login_name=wizard["login_name"], uscc=wizard["uscc"])
            if duplicates:
                return duplicates
            create_legal_person(db, wizard=wizard, at=idp.clock.now())
            return {}
    except IntegrityError:
        # Someone registered the same account or unit a moment ago.
        with idp.db.transaction() as db:
            return duplicate_errors(db, login_name=wizard["login_name"], uscc=wizard["uscc"]) or {"uscc": msg.USCC_TAKEN}


def register_person(
    idp: IdpParts, clean: dict[str, str], *, password_hash: str | None, sms_code: str, errors: dict[str, str]
) -> str | None:
    """个人注册 beyond the form: free login name and ID number, 人口库, the SMS
    code; then the account. Its id, or None with ``errors`` filled."""
    try:
        with idp.db.transaction() as db:
            for field, message in duplicate_errors(db, login_name=clean.get("login_name"), id_number=clean.get("id_number")).items():
                errors.setdefault(field, message)
            names_valid = "id_number" not in errors and "person_name" not in errors
            if names_valid and (problem := check_person(db, id_number=clean["id_number"], name=clean["person_name"])):
                errors["id_number"] = problem
            if clean.get("mobile"):
                if not sms_code:
                    errors["sms_code"] = msg.SMS_CODE_MISSING
                elif not errors and (problem := idp.sms.verify(db, mobile=clean["mobile"], purpose="register-person", code=sms_code)):
                    errors["sms_code"] = problem
            if errors or password_hash is None:
                return None
            return create_natural_person(db, clean=clean, password_hash=password_hash, at=idp.clock.now()).id
    except IntegrityError:
        errors.setdefault("login_name", msg.LOGIN_NAME_TAKEN)
        return None
