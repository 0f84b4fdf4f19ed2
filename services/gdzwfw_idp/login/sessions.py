"""Small helpers the gdzwfw_idp routers share: the logged-in account, starting
a login, flash messages, form reading, the per-browser owner of QR sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

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
from shared.trust import TrustLevel
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = [
    "Current",
    "current",
    "start_login",
    "switch_identity",
    "flash",
    "pop_flash",
    "read_form",
    "owner_of",
    "client_address",
    "SESSION_INTERACTION",
]

# The authorization request this browser was last logging in for: the 实名核验
# page offers to continue it after an upgrade.
SESSION_INTERACTION = "pending_interaction"
_FLASH = "flash"
# Passwords are taken exactly as typed (a stray space is part of the password).
_SECRETS = frozenset({"password", "password_confirm", "current_password", "new_password", "new_password_confirm"})
_OWNER = "qr_owner"


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


def _load_current(request: Request) -> Current | None:
    account_id = request.session.get(SESSION_ACCOUNT)
    if not account_id:
        return None
    with request.app.state.db.transaction() as db:
        account = get_account(db, account_id=account_id)
        if account is None or account.status != "active" or not login_current(db, account=account, session=request.session):
            return None
        act = request.session.get(SESSION_ACT)
        level = acting_level(db, legal_person=account, act=act) if act else TrustLevel.from_name(account.trust_level)
        if act and level is None:
            return None
        db.expunge(account)
    return Current(account=account, level=level, act=act)


async def current(request: Request) -> Current | None:
    return await run_in_threadpool(_load_current, request)


def start_login(request: Request, *, account_id: str, amr: list[str], generation: int, act: dict[str, Any] | None = None) -> None:
    """A new login in this browser: the authentication event, with the
    login generation of the account as it was read when the credential was
    checked (a password changed meanwhile ends this login too)."""
    _begin(request, account_id=account_id, amr=amr, auth_time=request.app.state.clock.timestamp(), generation=generation, act=act)


def switch_identity(request: Request, *, account_id: str, act: dict[str, Any] | None = None) -> None:
    """The same person goes on for another identity (a handler choosing a
    unit, or leaving it): no new authentication happened, so its time,
    methods and login generation carry over."""
    session = request.session
    _begin(
        request,
        account_id=account_id,
        amr=list(session.get(SESSION_AMR) or ["pwd"]),
        auth_time=session.get(SESSION_AUTH_TIME) or request.app.state.clock.timestamp(),
        generation=int(session.get(SESSION_GENERATION) or 0),
        act=act,
    )


def _begin(request: Request, *, account_id: str, amr: list[str], auth_time: int, generation: int, act: dict[str, Any] | None) -> None:
    """A new session id (no fixation) and a new login ``sid`` for the tokens
    issued under it; ``act`` names the handler logged in for a unit."""
    rotate_session(request)
    session = request.session
    session[SESSION_ACCOUNT] = account_id
    session[SESSION_AUTH_TIME] = auth_time
    session[SESSION_AMR] = amr
    session[SESSION_SID] = request.app.state.tokens.token(16)
    session[SESSION_GENERATION] = generation
    if act:
        session[SESSION_ACT] = act
    else:
        session.pop(SESSION_ACT, None)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session[_FLASH] = {"message": message, "kind": kind}


def pop_flash(request: Request) -> dict[str, str] | None:
    return request.session.pop(_FLASH, None)


async def read_form(request: Request) -> dict[str, str]:
    """The CSRF-checked form as plain strings (files and repeats ignored)."""
    form = await verify_csrf_form(request)
    return {k: v.strip() if k not in _SECRETS else v for k, v in form.items() if isinstance(v, str)}


def owner_of(request: Request) -> str:
    """A random value naming this browser as the owner of the QR sessions it shows."""
    owner = request.session.get(_OWNER)
    if not owner:
        owner = request.app.state.tokens.token(16)
        request.session[_OWNER] = owner
    return owner


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
