"""账号安全设置 (修改密码、手机号、邮箱) and 找回密码/账号.

Every change is confirmed by the current password or by an SMS code sent to
the bound mobile number; wrong current passwords count towards the same
lockout as wrong logins. Recovery proves control of the bound mobile number.

A new password ends the account's other logins: whoever knew the old one
keeps nothing it gave them. Their browser sessions stop counting (the
account's login generation rises, ``hooks.login_current``) and the tokens
issued under them are revoked with back-channel logout notices to their
clients. A change keeps the browser it was made in; a reset keeps none.

Each function fills ``errors`` ({field: message}) with what it refuses.
"""

from __future__ import annotations

from sqlalchemy import update

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import find_by_login_name, find_by_mobile, handled_by, set_password
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.parts import IdpParts
from shared.account_rules import RuleError, check_gdzwfw_password

__all__ = [
    "new_password",
    "confirm_identity",
    "change_password",
    "change_mobile",
    "change_email",
    "reset_password",
    "accounts_of_mobile",
    "end_logins",
]

NO_PASSWORD = "!"  # accounts opened by an electronic-licence login have no password yet


def new_password(form: dict[str, str], errors: dict[str, str]) -> str | None:
    """The new password when it follows the rules and was typed twice the same."""
    new = form.get("new_password", "")
    try:
        check_gdzwfw_password(new)
    except RuleError as exc:
        errors["new_password"] = exc.message
        return None
    if form.get("new_password_confirm", "") != new:
        errors["new_password_confirm"] = msg.PASSWORD_MISMATCH
        return None
    return new


def _sms_problem(idp: IdpParts, *, mobile: str, purpose: str, code: str) -> str | None:
    if not code:
        return msg.SMS_CODE_MISSING
    with idp.db.transaction() as db:
        return idp.sms.verify(db, mobile=mobile, purpose=purpose, code=code)


def confirm_identity(idp: IdpParts, account: Account, form: dict[str, str], errors: dict[str, str], *, allow_sms: bool) -> bool:
    """The current password, or (where allowed) an SMS code to the bound number."""
    if allow_sms and form.get("verify_by") == "sms":
        if not account.mobile:
            errors["sms_code"] = "本账号未绑定手机号码，请使用当前密码验证"
            return False
        if problem := _sms_problem(idp, mobile=account.mobile, purpose="change-password", code=form.get("sms_code", "")):
            errors["sms_code"] = problem
            return False
        return True
    if account.password_hash == NO_PASSWORD:
        return True
    limiter = idp.login_service.per_account
    if limiter.is_blocked(account.login_name):
        errors["current_password"] = "当前密码错误次数过多，请稍后再试或通过“找回密码/账号”重置"
        return False
    if not idp.passwords.verify(account.password_hash, form.get("current_password", "")):
        left = limiter.hit(account.login_name)
        errors["current_password"] = msg.CURRENT_PASSWORD_WRONG + (f"，您还可以尝试{left}次" if left else "")
        return False
    return True


def change_password(idp: IdpParts, account: Account, form: dict[str, str], errors: dict[str, str]) -> int | None:
    """修改密码: the account's new login generation, or None."""
    new = new_password(form, errors)
    if new is None or not confirm_identity(idp, account, form, errors, allow_sms=True):
        return None
    new_hash = idp.passwords.hash(new)
    with idp.db.transaction() as db:
        return set_password(db, account_id=account.id, password_hash=new_hash)


def change_mobile(idp: IdpParts, account: Account, form: dict[str, str], mobile: str, errors: dict[str, str]) -> None:
    """修改手机号, proven by the current password and a code sent to the new number."""
    if not confirm_identity(idp, account, form, errors, allow_sms=False):
        return
    code = form.get("sms_code", "")
    with idp.db.transaction() as db:
        problem = msg.SMS_CODE_MISSING if not code else idp.sms.verify(db, mobile=mobile, purpose="change-mobile", code=code)
        if problem:
            errors["sms_code"] = problem
            return
        db.execute(update(Account).where(Account.id == account.id).values(mobile=mobile))


def change_email(idp: IdpParts, account: Account, form: dict[str, str], email: str, errors: dict[str, str]) -> None:
    if not confirm_identity(idp, account, form, errors, allow_sms=False):
        return
    with idp.db.transaction() as db:
        db.execute(update(Account).where(Account.id == account.id).values(email=email))


def reset_password(idp: IdpParts, *, login_name: str, mobile: str, new: str, code: str, errors: dict[str, str]) -> str | None:
    """找回密码: the account whose password was reset (every login of it ended), or None."""
    with idp.db.transaction() as db:
        problem = msg.SMS_CODE_MISSING if not code else idp.sms.verify(db, mobile=mobile, purpose="reset-password", code=code)
        if problem:
            errors["sms_code"] = problem
            return None
        account = find_by_login_name(db, login_name=login_name)
        if account is None or account.mobile != mobile:
            errors["mobile"] = "登录账号与绑定的手机号码不一致"
            return None
        set_password(db, account_id=account.id, password_hash=idp.passwords.hash(new))
        account_id = account.id
    idp.login_service.per_account.reset(login_name)
    # Whoever forgot the password may not be the only one who had it: no login survives.
    end_logins(idp, person_id=account_id, keep_sid=None)
    return account_id


def accounts_of_mobile(idp: IdpParts, *, mobile: str, code: str, errors: dict[str, str]) -> list[dict[str, str]]:
    """找回账号: the active accounts bound to the number the code proves."""
    with idp.db.transaction() as db:
        problem = msg.SMS_CODE_MISSING if not code else idp.sms.verify(db, mobile=mobile, purpose="find-account", code=code)
        if problem:
            errors["sms_code"] = problem
            return []
        return [
            {
                "login_name": a.login_name,
                "kind": "法人账号" if a.account_type == "legal_person" else "个人账号",
                "name": a.org_name or a.person_name or "",
            }
            for a in find_by_mobile(db, mobile=mobile)
            if a.status == "active"
        ]


def end_logins(idp: IdpParts, *, person_id: str, keep_sid: str | None) -> int:
    """End every login ``person_id`` authenticated but ``keep_sid``: its own,
    and those in which it acts as handler for a unit. The number of tokens
    revoked."""
    with idp.db.transaction() as db:
        units = [unit.id for _, unit in handled_by(db, handler_id=person_id)]
    return idp.provider.end_logins_of(person_id, subjects=[person_id, *units], keep_sid=keep_sid)
