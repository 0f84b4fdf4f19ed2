"""QR codes for one-time sessions: what a page shows, and what a session carries.

``kind`` is ``face`` (微信扫码人脸识别 for the registration's 申请人) or
``licence`` (电子营业执照: ``purpose`` ``login`` or ``verify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.gdzwfw_idp.hooks import SESSION_ACCOUNT, SESSION_ACT
from services.gdzwfw_idp.parts import IdpParts
from shared.identifiers import mask_id_number

__all__ = ["KINDS", "QrView", "new_qr", "masked_person", "session_data"]

KINDS = {"face": "微信扫码人脸识别", "licence": "电子营业执照"}


@dataclass
class QrView:
    """A QR session as a page shows it: the browser draws ``url`` as the code
    (static/idp.js, with the vendored qrcode-generator), labelled ``title``."""

    id: str
    url: str
    title: str
    dev_url: str | None
    expires_at: int


def masked_person(name: str, id_number: str) -> str:
    shown = name[0] + "*" * (len(name) - 1) if name else ""
    return f"{shown}（{mask_id_number(id_number)}）"


async def new_qr(idp: IdpParts, *, owner: str, kind: str, data: dict[str, Any] | None = None) -> QrView:
    """A new one-time session owned by this browser, and what its QR code shows.

    The code is drawn by the browser, not here: 法人登录 opens on 微信扫码,
    so every login page showed one, and encoding it and writing its SVG was
    the largest item of the login page's server CPU (0.6 ms in-server, more
    than a third of the page). Scanning needs the page's script anyway (it
    polls the session and completes the login)."""
    session = await idp.qr.create(kind, owner=owner, data=data)
    url = f"{idp.settings.public_url}/m/{kind}?s={session.id}"
    title = "微信小程序码" if kind == "face" else "电子营业执照扫码二维码"
    dev_url = url if idp.settings.stand_ins_enabled else None
    return QrView(id=session.id, url=url, title=title, dev_url=dev_url, expires_at=session.expires_at)


def session_data(session: dict[str, Any], *, kind: str, purpose: str, interaction: str) -> dict[str, Any] | None:
    """What a fresh QR session of ``kind`` carries, or None when this browser
    may not have one: a licence QR for ``verify`` names the account being
    verified (its own login, not a handler's)."""
    if kind == "face":
        return {"purpose": "register"}
    if kind != "licence":
        return None
    if purpose == "login":
        return {"purpose": "login", "interaction": interaction}
    if purpose == "verify" and session.get(SESSION_ACCOUNT) and not session.get(SESSION_ACT):
        return {"purpose": "verify", "account_id": session[SESSION_ACCOUNT]}
    return None
