"""The browser's login: who it is (:class:`Current`), starting one, and a
handler switching identity within one. The keys it keeps in the session are
those the provider's hooks read (``hooks.SESSION_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from services.gdzwfw_idp.accounts import get_account
from services.gdzwfw_idp.hooks import (
    SESSION_ACCOUNT,
    SESSION_ACT,
    SESSION_AMR,
    SESSION_AUTH_TIME,
    SESSION_GENERATION,
    SESSION_SID,
    acting_level,
    login_current,
)
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.parts import IdpParts
from shared.db import Database
from shared.trust import TrustLevel
from shared.web.sessions import rotate_session

__all__ = ["Current", "load_current", "start_login", "switch_identity", "after_login", "SESSION_INTERACTION"]

# The authorization request this browser was last logging in for: the 实名核验
# page offers to continue it after an upgrade.
SESSION_INTERACTION = "pending_interaction"


@dataclass
class Current:
    """The logged-in account (detached from its session) and, when a handler
    acts for it, who that is."""

    account: Account
    level: TrustLevel | None
    act: dict[str, Any] | None

    @property
    def acting(self) -> bool:
        return self.act is not None


def load_current(db: Database, session: dict[str, Any]) -> Current | None:
    account_id = session.get(SESSION_ACCOUNT)
    if not account_id:
        return None
    with db.transaction() as s:
        account = get_account(s, account_id=account_id)
        if account is None or account.status != "active" or not login_current(s, account=account, session=session):
            return None
        act = session.get(SESSION_ACT)
        level = acting_level(s, legal_person=account, act=act) if act else TrustLevel.from_name(account.trust_level)
        if act and level is None:
            return None
        s.expunge(account)
    return Current(account=account, level=level, act=act)


def start_login(
    request: Request, idp: IdpParts, *, account_id: str, amr: list[str], generation: int, act: dict[str, Any] | None = None
) -> None:
    """A new login in this browser: the authentication event, with the
    login generation of the account as it was read when the credential was
    checked (a password changed meanwhile ends this login too)."""
    _begin(request, idp, account_id=account_id, amr=amr, auth_time=idp.clock.timestamp(), generation=generation, act=act)


def switch_identity(request: Request, idp: IdpParts, *, account_id: str, act: dict[str, Any] | None = None) -> None:
    """The same person goes on for another identity (a handler choosing a
    unit, or leaving it): no new authentication happened, so its time,
    methods and login generation carry over."""
    session = request.session
    _begin(
        request,
        idp,
        account_id=account_id,
        amr=list(session.get(SESSION_AMR) or ["pwd"]),
        auth_time=session.get(SESSION_AUTH_TIME) or idp.clock.timestamp(),
        generation=int(session.get(SESSION_GENERATION) or 0),
        act=act,
    )


def _begin(
    request: Request, idp: IdpParts, *, account_id: str, amr: list[str], auth_time: int, generation: int, act: dict[str, Any] | None
) -> None:
    """A new session id (no fixation) and a new login ``sid`` for the tokens
    issued under it; ``act`` names the handler logged in for a unit."""
    rotate_session(request)
    session = request.session
    session[SESSION_ACCOUNT] = account_id
    session[SESSION_AUTH_TIME] = auth_time
    session[SESSION_AMR] = amr
    session[SESSION_SID] = idp.tokens.token(16)
    session[SESSION_GENERATION] = generation
    if act:
        session[SESSION_ACT] = act
    else:
        session.pop(SESSION_ACT, None)


def after_login(request: Request, interaction: str) -> Response:
    """Back to the waiting client, or to the account pages."""
    if interaction:
        request.session[SESSION_INTERACTION] = interaction
        return RedirectResponse(f"/authorize/resume?interaction={interaction}", status_code=303)
    return RedirectResponse("/account", status_code=303)
