"""What an approved electronic-licence QR session does: raise the unit to
四级（原L2） (电子营业执照核验), or log the unit in (微信扫码登录), opening its
account on the way when it has none (「无需注册，微信扫码使用电子营业执照直接登录」).

The result is claimed once, by the browser that showed the QR code.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import create_account, find_by_login_name, find_by_uscc, get_account, record_verification
from services.gdzwfw_idp.parts import IdpParts
from shared.trust import TrustLevel

__all__ = ["AMR", "LicenceLogin", "upgrade", "login"]

AMR = ["swk"]


def upgrade(idp: IdpParts, *, owner: str, sid: str, account_id: str, uscc: str | None, actor: str) -> str | None:
    """电子营业执照核验 for this account: None, or the message for the page."""
    claimed = idp.qr.claim("licence", sid, owner=owner)
    if claimed is None or claimed[1].get("purpose") != "verify" or claimed[1].get("account_id") != account_id:
        return msg.QR_EXPIRED
    result, _ = claimed
    if result["uscc"] != uscc:
        return f"电子营业执照的统一社会信用代码（{result['uscc']}）与本账号的单位/企业证件号码不一致，请选择本单位的电子营业执照"
    with idp.db.transaction() as db:
        account = get_account(db, account_id=account_id)
        record_verification(
            db,
            account=account,
            level=TrustLevel.L2,
            method=msg.METHOD_LICENCE,
            evidence=(
                f"电子营业执照核验通过：{result['org_name']}（{result['uscc']}），"
                f"授权事项“{idp.settings.licence_scope}”，凭证编号 {result['jti']}"
            ),
            actor=actor,
            at=idp.clock.now(),
        )
    return None


@dataclass
class LicenceLogin:
    """``account``: (account id, login generation) to log in, or ``error``;
    ``interaction``: the authorization request the QR code was shown for."""

    account: tuple[str, int] | None
    error: str | None
    interaction: str | None = None


def login(idp: IdpParts, *, owner: str, sid: str) -> LicenceLogin:
    claimed = idp.qr.claim("licence", sid, owner=owner)
    if claimed is None or claimed[1].get("purpose") != "login":
        return LicenceLogin(None, msg.QR_EXPIRED)
    result, data = claimed
    interaction = data.get("interaction") or None
    now = idp.clock.now()
    evidence = f"电子营业执照授权凭证（授权事项：{idp.settings.licence_scope}，凭证编号 {result['jti']}）"
    with idp.db.transaction() as db:
        account = find_by_uscc(db, uscc=result["uscc"])
        if account is None:
            # 「无需注册，微信扫码使用电子营业执照直接登录」: the licence is the registration.
            login_name = result["uscc"] if find_by_login_name(db, login_name=result["uscc"]) is None else f"yyzz_{result['uscc'][-12:]}"
            account = create_account(
                db,
                fields={
                    "account_type": "legal_person",
                    "login_name": login_name,
                    "password_hash": "!",  # no password until the unit sets one
                    "org_name": result["org_name"],
                    "uscc": result["uscc"],
                    "legal_rep_name": result.get("legal_rep_name"),
                },
                level=TrustLevel.L2,
                method=msg.METHOD_LICENCE,
                evidence="无需注册，微信扫码使用电子营业执照直接登录；" + evidence,
                actor="电子营业执照扫码登录",
                at=now,
            )
        elif account.account_type == "legal_person" and account.status == "active":
            record_verification(
                db,
                account=account,
                level=TrustLevel.L2,
                method=msg.METHOD_LICENCE,
                evidence="扫码登录；" + evidence,
                actor="电子营业执照扫码登录",
                at=now,
            )
        else:
            return LicenceLogin(None, msg.UNIT_ACCOUNT_DISABLED.format(hotline=idp.settings.hotline), interaction)
        return LicenceLogin((account.id, account.login_generation), None, interaction)
