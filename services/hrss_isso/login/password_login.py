"""Password login with lockout for personal, unit and staff accounts
(the seed's 账号密码 method), shaped like gdzwfw_idp's.

Wrong passwords count per account and per client address in the shared
store; a locked account is refused before its password is checked, so it
cannot be used as a password oracle. argon2 runs outside any transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.hrss_isso import messages as msg
from shared.db import Database
from shared.passwords import PasswordService, rehash_after_login
from shared.ratelimit import Limiter

__all__ = ["Credentials", "LoginService", "LoginResult"]


@dataclass(frozen=True)
class Credentials:
    """What a login needs to know of an account, detached from the session."""

    id: str
    password_hash: str | None
    status: str
    # A personal account's login generation (Person.login_generation), read
    # with the hash that is checked; 0 for accounts that have none.
    generation: int = 0


@dataclass
class LoginResult:
    account_id: str | None = None
    error: str | None = None
    generation: int = 0


class LoginService:
    def __init__(
        self,
        *,
        kind: str,
        find: Callable[[Session, str], Credentials | None],
        passwords: PasswordService,
        per_account: Limiter,
        per_address: Limiter,
        model: Any,
    ) -> None:
        self.kind = kind
        self.find = find
        self.passwords = passwords
        self.per_account = per_account
        self.per_address = per_address
        self.model = model  # the mapped account class: its password is rehashed after login

    def authenticate(self, db: Database, *, login_name: str, password: str, address: str) -> LoginResult:
        login_name = login_name.strip()
        if not login_name or not password:
            return LoginResult(error=msg.ENTER_ACCOUNT_AND_PASSWORD)
        minutes = self.per_account.window_seconds // 60
        locked = msg.LOCKED.format(minutes=minutes)
        if self.per_address.is_blocked(address):
            return LoginResult(error=msg.ADDRESS_THROTTLED.format(minutes=minutes))
        if self.per_account.is_blocked(login_name):
            return LoginResult(error=locked)
        with db.transaction() as s:
            found = self.find(s, login_name)
        if not self.passwords.verify(found.password_hash if found else None, password) or found is None:
            self.per_address.hit(address)
            left = self.per_account.hit(login_name)
            return LoginResult(error=locked if left == 0 else msg.WRONG_PASSWORD.format(left=left))
        if found.status != "active":
            return LoginResult(error=msg.ACCOUNT_DISABLED)
        self.per_account.reset(login_name)
        rehash_after_login(db, self.passwords, self.model, account_id=found.id, checked_hash=found.password_hash or "", password=password)
        return LoginResult(account_id=found.id, generation=found.generation)

    def unlock(self, login_name: str) -> None:
        """After a password reset the account may be tried again at once."""
        self.per_account.reset(login_name)
