"""Small helpers the gdzwfw_idp routers share: the logged-in account, starting
a login, flash messages, form reading, the per-browser owner of QR sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.accounts import get_account
from services.gdzwfw_idp.hooks import SESSION_ACCOUNT, SESSION_ACT, SESSION_AMR, SESSION_AUTH_TIME, SESSION_SID, acting_level
from services.gdzwfw_idp.models import Account
from shared.trust import TrustLevel
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = [
    "Current",
    "current",
    "start_login",
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
        if account is None or account.status != "active":
            return None
        act = request.session.get(SESSION_ACT)
        level = acting_level(db, legal_person=account, act=act) if act else TrustLevel.from_name(account.trust_level)
        if act and level is None:
            return None
        db.expunge(account)
    return Current(account=account, level=level, act=act)


async def current(request: Request) -> Current | None:
    return await run_in_threadpool(_load_current, request)


def start_login(request: Request, *, account_id: str, amr: list[str], act: dict[str, Any] | None = None, keep_auth_time: bool = False) -> None:
    """A new login in this browser: a new session id (no fixation), the
    authentication event, and who acts when a handler logs in for a unit.
    ``keep_auth_time`` when only the identity acted for changes (a handler
    switching units): the person authenticated when they first logged in."""
    state = request.app.state
    auth_time = request.session.get(SESSION_AUTH_TIME) if keep_auth_time else None
    rotate_session(request)
    request.session[SESSION_ACCOUNT] = account_id
    request.session[SESSION_AUTH_TIME] = auth_time or state.clock.timestamp()
    request.session[SESSION_AMR] = amr
    request.session[SESSION_SID] = state.tokens.token(16)
    if act:
        request.session[SESSION_ACT] = act
    else:
        request.session.pop(SESSION_ACT, None)


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
