"""Who may be sent an SMS code, to which number, for which purpose.

``change-password`` goes to the logged-in account's bound number whatever was
typed; ``change-mobile`` needs a login. For ``reset-password`` and
``find-account`` the answer is the same whether or not the number belongs to
the account, so the form cannot tell who uses which number; a mismatch is
still counted like a send, so probing is rate-limited like sending.
"""

from __future__ import annotations

from typing import Any

from services.gdzwfw_idp.accounts import find_by_login_name, find_by_mobile, get_account
from services.gdzwfw_idp.parts import IdpParts
from shared.sms import check_mobile, mask_mobile

__all__ = ["PURPOSES", "send_code"]

PURPOSES = {
    "register-legal": "法人注册",
    "register-person": "个人注册",
    "reset-password": "找回密码",
    "find-account": "找回账号",
    "change-password": "修改密码",
    "change-mobile": "修改手机号",
}
_GENERIC = "如账号信息与手机号码匹配，验证码已发送至该手机"


def send_code(idp: IdpParts, *, purpose: str, mobile: str, login_name: str, account_id: str | None, address: str) -> dict[str, Any]:
    """The JSON answer to 获取验证码: ``sent`` with a message, or an ``error``."""
    number = check_mobile(mobile)
    generic = False
    # Look up first, in its own transaction: sending touches the rate-limit
    # store, which on SQLite is the same database (no nested writers).
    with idp.db.transaction() as db:
        if purpose == "change-password":
            account = get_account(db, account_id=account_id or "")
            if account is None or not account.mobile:
                return {"sent": False, "error": "请先登录，并确认账号已绑定手机号码"}
            number = account.mobile
        elif purpose == "change-mobile" and not account_id:
            return {"sent": False, "error": "请先登录"}
        matches = True
        if purpose in ("reset-password", "find-account") and number:
            generic = True
            if purpose == "reset-password":
                account = find_by_login_name(db, login_name=login_name)
                matches = account is not None and account.mobile == number
            else:
                matches = bool(find_by_mobile(db, mobile=number))
    if number is None:
        return {"sent": False, "error": "请输入正确的11位手机号码"}
    minutes = idp.settings.sms_code_ttl // 60
    dev_note = "（开发环境：短信内容见 /dev/sms）" if idp.outbox is not None and idp.settings.is_development else ""
    if not matches:
        if idp.sms.per_address.is_blocked(address):
            return {"sent": False, "error": "获取验证码过于频繁，请稍后再试"}
        idp.sms.per_address.hit(address)
        return {"sent": True, "message": f"{_GENERIC}，{minutes}分钟内有效{dev_note}", "retry_after": idp.settings.sms_resend_seconds}
    with idp.db.transaction() as db:
        result = idp.sms.send(db, mobile=number, purpose=purpose, address=address)
    if not result.sent:
        return {"sent": False, "error": result.error, "retry_after": result.retry_after}
    text = _GENERIC if generic else f"验证码已发送至 {mask_mobile(number)}"
    return {"sent": True, "message": f"{text}，{minutes}分钟内有效{dev_note}", "retry_after": idp.settings.sms_resend_seconds}
