"""Password login with lockout for personal and unit accounts (the seed's
账号密码 method): the shared checks (:mod:`shared.password_login`) told in the
ISSO's own words (:mod:`services.hrss_isso.messages`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.hrss_isso import messages as msg
from shared.db import Database
from shared.password_login import Disabled, LoggedIn, Missing, Outcome, PasswordLogin, Throttled, Wrong

__all__ = ["LoginResult", "login_error", "password_login"]


@dataclass
class LoginResult:
    account_id: str | None = None
    error: str | None = None
    # A personal account's login generation (Person.login_generation), read
    # with the hash that was checked; 0 for accounts that have none.
    generation: int = 0


def login_error(outcome: Outcome, *, minutes: int, hotline: str) -> str:
    """The ISSO's message for a refused login (the lock window in minutes, the
    number a stopped account is told to call)."""
    if isinstance(outcome, Missing):
        return msg.ENTER_ACCOUNT_AND_PASSWORD
    if isinstance(outcome, Throttled):
        return msg.ADDRESS_THROTTLED.format(minutes=minutes)
    if isinstance(outcome, Disabled):
        return msg.ACCOUNT_DISABLED.format(hotline=hotline)
    if isinstance(outcome, Wrong) and outcome.left:
        return msg.WRONG_PASSWORD.format(left=outcome.left)
    return msg.LOCKED.format(minutes=minutes)


def password_login(service: PasswordLogin, db: Database, *, login_name: str, password: str, address: str, hotline: str) -> LoginResult:
    outcome = service.authenticate(db, login_name=login_name, password=password, address=address)
    if isinstance(outcome, LoggedIn):
        return LoginResult(account_id=outcome.id, generation=outcome.account or 0)
    return LoginResult(error=login_error(outcome, minutes=service.window_seconds // 60, hotline=hotline))
