"""Who may be sent an SMS code, to which number, for which purpose.

``change-password`` goes to the logged-in account's bound number whatever was
typed; ``change-mobile`` needs a login. For ``reset-password`` and
``find-account`` the answer is the same whether or not the number belongs to
the account, so the form cannot tell who uses which number: a mismatch
passes the same limiters as a send (the 60-second cooldown keys on the number
typed), and a match sends its code after the answer has gone, so neither the
answer nor its timing says whether the pair is real.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.gdzwfw_idp.accounts import find_by_login_name, find_by_mobile, get_account
from services.gdzwfw_idp.parts import IdpParts
from shared.sms import check_mobile, mask_mobile

__all__ = ["PURPOSES", "SendReply", "send_code"]

log = logging.getLogger("sms")

PURPOSES = {
    "register-legal": "法人注册",
    "register-person": "个人注册",
    "reset-password": "找回密码",
    "find-account": "找回账号",
    "change-password": "修改密码",
    "change-mobile": "修改手机号",
}
_GENERIC = "如账号信息与手机号码匹配，验证码已发送至该手机"


@dataclass(frozen=True)
class SendReply:
    """The JSON answer, and the sending to do once it has gone (if any)."""

    answer: dict[str, Any]
    after: Callable[[], None] | None = None


def send_code(idp: IdpParts, *, purpose: str, mobile: str, login_name: str, account_id: str | None, address: str) -> SendReply:
    """The answer to 获取验证码: ``sent`` with a message, or an ``error``."""
    number = check_mobile(mobile)
    generic = False
    # Look up first, in its own transaction: sending touches the rate-limit
    # store, which on SQLite is the same database (no nested writers).
    with idp.db.transaction() as db:
        if purpose == "change-password":
            account = get_account(db, account_id=account_id or "")
            if account is None or not account.mobile:
                return SendReply({"sent": False, "error": "请先登录，并确认账号已绑定手机号码"})
            number = account.mobile
        elif purpose == "change-mobile" and not account_id:
            return SendReply({"sent": False, "error": "请先登录"})
        matches = True
        if purpose in ("reset-password", "find-account") and number:
            generic = True
            if purpose == "reset-password":
                account = find_by_login_name(db, login_name=login_name)
                matches = account is not None and account.mobile == number
            else:
                matches = bool(find_by_mobile(db, mobile=number))
    if number is None:
        return SendReply({"sent": False, "error": "请输入正确的11位手机号码"})
    minutes = idp.settings.sms_code_ttl // 60
    dev_note = "（开发环境：短信内容见 /dev/sms）" if idp.outbox is not None and idp.settings.is_development else ""
    refused = idp.sms.admit(mobile=number, address=address)
    if refused is not None:
        return SendReply({"sent": False, "error": refused.error, "retry_after": refused.retry_after})
    sent = {"sent": True, "message": f"{_GENERIC}，{minutes}分钟内有效{dev_note}", "retry_after": idp.settings.sms_resend_seconds}
    if generic:
        return SendReply(sent, after=(lambda: _issue_quietly(idp, mobile=number, purpose=purpose)) if matches else None)
    with idp.db.transaction() as db:
        idp.sms.issue(db, mobile=number, purpose=purpose)
    return SendReply({**sent, "message": f"验证码已发送至 {mask_mobile(number)}，{minutes}分钟内有效{dev_note}"})


def _issue_quietly(idp: IdpParts, *, mobile: str, purpose: str) -> None:
    # Runs after the answer: a failure cannot change what was said (and must
    # not), so it goes to the log only.
    try:
        with idp.db.transaction() as db:
            idp.sms.issue(db, mobile=mobile, purpose=purpose)
    except Exception:
        log.exception("sms code not sent", extra={"fields": {"mobile": mask_mobile(mobile), "purpose": purpose}})
