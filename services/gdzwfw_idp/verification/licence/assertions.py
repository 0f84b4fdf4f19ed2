"""The electronic business licence's round trip through a QR session.

1. The page creates a ``licence`` one-time session (purpose ``login`` or
   ``verify``) and shows its QR code.
2. The licence wallet posts the authority-signed assertion for that session
   (:func:`accept_assertion`): checked in full, then the session is approved
   once with the unit it names.
3. The page, polling, sees the approval and posts its completion; the
   result is claimed once, by the browser that owns the session, and the
   caller logs the unit in or raises its level.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.verification.licence.verifier import LicenceError

__all__ = ["Accepted", "accept_assertion"]


@dataclass
class Accepted:
    ok: bool
    code: str
    message: str


def accept_assertion(idp: IdpParts, *, token: str, sid: str) -> Accepted:
    """What the wallet's callback does (and the development wallet page)."""
    if idp.qr.peek("licence", sid) is None:
        state = idp.qr.approve("licence", sid, {})  # tells used from expired; approves nothing
        return Accepted(False, state, msg.QR_USED if state == "used" else msg.QR_EXPIRED)
    try:
        assertion = idp.licence.verify(token, sid=sid)
    except LicenceError as exc:
        return Accepted(False, exc.code, exc.message)
    outcome = idp.qr.approve(
        "licence",
        sid,
        {"uscc": assertion.uscc, "org_name": assertion.org_name, "legal_rep_name": assertion.legal_rep_name, "jti": assertion.jti},
    )
    if outcome != "approved":
        return Accepted(False, outcome, msg.QR_USED if outcome == "used" else msg.QR_EXPIRED)
    return Accepted(True, "approved", "扫码确认成功，请返回电脑页面继续操作")
