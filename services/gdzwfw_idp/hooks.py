"""How gdzwfw_idp plugs its accounts into the shared provider."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from services.gdzwfw_idp.accounts import PrincipalAccount, aprincipal_account, get_account, is_handler, principal_account
from services.gdzwfw_idp.models import Account
from shared.db_async import AsyncReads
from shared.oauth.provider.errors import NotPrefetched
from shared.oauth.provider.models import Principal
from shared.trust import TrustLevel

__all__ = [
    "IdpHooks",
    "profile_claims_of",
    "SESSION_ACCOUNT",
    "SESSION_AUTH_TIME",
    "SESSION_AMR",
    "SESSION_SID",
    "SESSION_ACT",
    "SESSION_GENERATION",
    "LOGIN_KEYS",
    "login_current",
]

SESSION_ACCOUNT = "account_id"
SESSION_AUTH_TIME = "auth_time"
SESSION_AMR = "amr"
SESSION_SID = "sid"
# A handler (经办人) logged in for a legal person: {"sub": handler account id, "name": …}.
SESSION_ACT = "act"
# The login generation of the person who authenticated (Account.login_generation).
SESSION_GENERATION = "login_generation"
LOGIN_KEYS = (SESSION_ACCOUNT, SESSION_AUTH_TIME, SESSION_AMR, SESSION_SID, SESSION_ACT, SESSION_GENERATION)


def profile_claims_of(account: Account | Row | PrincipalAccount) -> dict[str, Any]:
    """DESIGN.md § Claims (gdzwfw_idp → its clients).

    A natural person's ID number is offered as ``id_number``, which the
    provider releases only in tokens carrying the ``id_number`` scope — a
    scope only clients whose step needs it (hrss_isso's 个人注册 through the
    province) are registered for."""
    claims: dict[str, Any] = {"account_type": account.account_type}
    if account.account_type == "legal_person":
        claims.update(org_name=account.org_name, uscc=account.uscc, legal_rep_name=account.legal_rep_name)
    else:
        claims.update(name=account.person_name, id_number=account.id_number)
    return claims


def acting_level(db: Session, *, legal_person: Account | Row, act: dict[str, Any] | None) -> TrustLevel | None:
    """The level a login carries. A handler's login for a legal person is no
    stronger than either side: the unit's verification and the person who
    authenticated. A handler who was removed, or whose account stopped, no
    longer acts for anyone (None)."""
    level = TrustLevel.from_name(legal_person.trust_level)
    if not act:
        return level
    handler = get_account(db, account_id=str(act.get("sub") or ""))
    if handler is None or handler.status != "active" or not is_handler(db, legal_person_id=legal_person.id, handler_id=handler.id):
        return None
    handler_level = TrustLevel.from_name(handler.trust_level)
    if level is None or handler_level is None:
        return None
    return min(level, handler_level)


def login_current(db: Session, *, account: Account | Row, session: dict[str, Any]) -> bool:
    """Whether this browser's login began after the last password change or
    reset of the person who authenticated (the handler, when one acts for
    ``account``): a change ends every other login, wherever it is."""
    act = session.get(SESSION_ACT)
    person = get_account(db, account_id=str(act.get("sub") or "")) if isinstance(act, dict) else account
    return person is not None and generation_current(session, person)


def generation_current(session: dict[str, Any], person: Account | Row | PrincipalAccount) -> bool:
    """Whether the login in ``session`` began at ``person``'s current login generation."""
    return int(session.get(SESSION_GENERATION) or 0) == person.login_generation


def principal_of(account: Account | Row | PrincipalAccount, session: dict[str, Any], level: TrustLevel | None) -> Principal:
    """The principal of a login already judged current, at ``level``."""
    act = session.get(SESSION_ACT)
    context: dict[str, Any] = {"sid": session.get(SESSION_SID)}
    if act:
        context["act"] = {"sub": act["sub"], "name": act.get("name")}
    return Principal(
        sub=account.id,
        claims=profile_claims_of(account),
        acr=level.acr if level else None,
        amr=list(session.get(SESSION_AMR) or ["pwd"]),
        auth_time=int(session.get(SESSION_AUTH_TIME) or 0),
        context=context,
    )


class IdpHooks:
    # Read on the loop, except a handler's login (asession_principal says so).
    logins_on_loop = True
    claims_on_loop = True

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url

    def holds_login(self, session: dict[str, Any]) -> bool:
        return bool(session.get(SESSION_ACCOUNT))

    def session_principal(self, db: Session, session: dict[str, Any]) -> Principal | None:
        account_id = session.get(SESSION_ACCOUNT)
        if not account_id:
            return None
        account = principal_account(db, account_id=account_id)
        if account is None or account.status != "active" or not login_current(db, account=account, session=session):
            return None
        act = session.get(SESSION_ACT)
        level = acting_level(db, legal_person=account, act=act)
        if act and level is None:
            return None
        return principal_of(account, session, level)

    async def asession_principal(self, reads: AsyncReads, session: dict[str, Any]) -> Principal | None:
        if session.get(SESSION_ACT):
            # A handler's login also needs the handler's account and relation: the general path.
            raise NotPrefetched("handler login")
        account_id = session.get(SESSION_ACCOUNT)
        if not account_id:
            return None
        account = await aprincipal_account(reads, account_id=account_id)
        if account is None or account.status != "active" or not generation_current(session, account):
            return None
        return principal_of(account, session, TrustLevel.from_name(account.trust_level))

    def profile_claims(self, db: Session, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        account = principal_account(db, account_id=subject)
        if account is None or account.status != "active":
            return None
        if context.get("act") and acting_level(db, legal_person=account, act=context["act"]) is None:
            return None  # the handler relation ended: tokens issued under it stop too
        return profile_claims_of(account)

    async def aprofile_claims(self, reads: AsyncReads, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        if context.get("act"):
            raise NotPrefetched("handler token")  # the relation is read too: the general path
        account = await aprincipal_account(reads, account_id=subject)
        if account is None or account.status != "active":
            return None
        return profile_claims_of(account)

    def login_url(self, interaction_id: str) -> str:
        return f"{self.public_url}/login?interaction={interaction_id}"

    def upgrade_url(self, principal: Principal, required_acr: str, interaction_id: str) -> str | None:
        # The 实名核验 page keeps the request and offers to continue it once
        # the new level is reached.
        return f"{self.public_url}/account/verification?interaction={interaction_id}"

    def step_up_url(self, principal: Principal, interaction_id: str) -> str | None:
        return None  # levels are raised here, on the 实名核验 page

    def end_session(self, db: Session, session: dict[str, Any]) -> None:
        for key in LOGIN_KEYS:
            session.pop(key, None)

    async def continue_logout(self, session: dict[str, Any], ended: dict[str, Any], destination: str | None) -> str | None:
        # The top of the chain: no login elsewhere to end.
        return None
