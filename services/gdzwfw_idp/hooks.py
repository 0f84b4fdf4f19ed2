"""How gdzwfw_idp plugs its accounts into the shared provider."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.gdzwfw_idp.accounts import get_account
from services.gdzwfw_idp.models import Account
from shared.oauth.provider.models import Principal
from shared.trust import TrustLevel

__all__ = ["IdpHooks", "profile_claims_of", "SESSION_ACCOUNT", "SESSION_AUTH_TIME", "SESSION_AMR", "SESSION_SID"]

SESSION_ACCOUNT = "account_id"
SESSION_AUTH_TIME = "auth_time"
SESSION_AMR = "amr"
SESSION_SID = "sid"
LOGIN_KEYS = (SESSION_ACCOUNT, SESSION_AUTH_TIME, SESSION_AMR, SESSION_SID)


def profile_claims_of(account: Account) -> dict[str, Any]:
    """DESIGN.md § Claims (gdzwfw_idp → its clients). ID numbers never leave."""
    claims: dict[str, Any] = {"account_type": account.account_type}
    if account.account_type == "legal_person":
        claims.update(org_name=account.org_name, uscc=account.uscc, legal_rep_name=account.legal_rep_name)
    else:
        claims.update(name=account.person_name)
    return claims


class IdpHooks:
    def __init__(self, public_url: str) -> None:
        self.public_url = public_url

    def session_principal(self, db: Session, session: dict[str, Any]) -> Principal | None:
        account_id = session.get(SESSION_ACCOUNT)
        if not account_id:
            return None
        account = get_account(db, account_id=account_id)
        if account is None or account.status != "active":
            return None
        level = TrustLevel.from_name(account.trust_level)
        return Principal(
            sub=account.id,
            claims=profile_claims_of(account),
            acr=level.acr if level else None,
            amr=list(session.get(SESSION_AMR) or ["pwd"]),
            auth_time=int(session.get(SESSION_AUTH_TIME) or 0),
            context={"sid": session.get(SESSION_SID)},
        )

    def profile_claims(self, db: Session, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        account = get_account(db, account_id=subject)
        if account is None or account.status != "active":
            return None
        return profile_claims_of(account)

    def login_url(self, interaction_id: str) -> str:
        return f"{self.public_url}/login?interaction={interaction_id}"

    def upgrade_url(self, principal: Principal, required_acr: str) -> str | None:
        return f"{self.public_url}/account/verification"

    def end_session(self, db: Session, session: dict[str, Any]) -> None:
        for key in LOGIN_KEYS:
            session.pop(key, None)
