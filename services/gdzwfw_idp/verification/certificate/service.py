"""What a verified 网银证书 / CA证书 does: raise the unit's level (实名核验), or
log the unit in when that method was verified before (证书登录).

Both take the page's challenge once (``challenge.verify_submission``) and
answer with the message for the page, or None on success.
"""

from __future__ import annotations

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import bind_certificate, find_by_uscc, get_account, record_verification, verified_methods
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.verification.certificate.challenge import verify_submission
from services.gdzwfw_idp.verification.certificate.verifier import KINDS, CertificateError
from shared.trust import TrustLevel

__all__ = ["METHODS", "LEVELS", "AMR", "upgrade", "login_account"]

METHODS = {"bank": msg.METHOD_BANK_CERT, "ca": msg.METHOD_CA_CERT}
LEVELS = {"bank": TrustLevel.L2, "ca": TrustLevel.L3}
AMR = ["swk", "pin"]  # RFC 8176: a software-held key, unlocked by a PIN


def upgrade(
    idp: IdpParts, *, owner: str, account_id: str, uscc: str | None, kind: str, nonce: str, response: str, actor: str
) -> str | None:
    """实名核验 by certificate: the certificate must name this account's unit."""
    try:
        cert, _ = verify_submission(idp, owner=owner, purpose=f"{kind}-verify", nonce=nonce, response=response)
    except CertificateError as exc:
        return exc.message
    if cert.uscc != uscc:
        return f"证书中的统一社会信用代码（{cert.uscc}）与本账号的单位/企业证件号码不一致，请使用本单位的{KINDS[kind]}"
    with idp.db.transaction() as db:
        account = get_account(db, account_id=account_id)
        now = idp.clock.now()
        bind_certificate(db, account=account, kind=kind, cert=cert, at=now)
        record_verification(
            db,
            account=account,
            level=LEVELS[kind],
            method=METHODS[kind],
            evidence=(
                f"{KINDS[kind]}签名核验通过：颁发者 {cert.issuer}；证书序列号 {cert.serial_hex}；"
                f"有效期至 {cert.not_after:%Y-%m-%d}；证书载明统一社会信用代码 {cert.uscc}"
            ),
            actor=actor,
            at=now,
        )
    return None


def login_account(idp: IdpParts, *, owner: str, kind: str, nonce: str, response: str) -> tuple[tuple[str, int] | None, str | None]:
    """证书登录: ((account id, login generation), None), or (None, why not).
    The unit must be registered and have passed this certificate's 实名核验."""
    try:
        cert, _ = verify_submission(idp, owner=owner, purpose=f"{kind}-login", nonce=nonce, response=response)
    except CertificateError as exc:
        return None, exc.message
    with idp.db.transaction() as db:
        account = find_by_uscc(db, uscc=cert.uscc)
        if account is None or account.account_type != "legal_person" or account.status != "active":
            return None, f"统一社会信用代码为 {cert.uscc} 的单位尚未注册法人账号，请先注册"
        if METHODS[kind] not in verified_methods(db, account_id=account.id):
            return None, (
                f"该单位尚未完成{METHODS[kind]}，请先使用账号密码登录，在“账号管理 → 实名核验”中完成核验后再使用{KINDS[kind]}登录"
            )
        return (account.id, account.login_generation), None
