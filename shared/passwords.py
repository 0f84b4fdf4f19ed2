"""Password hashing with argon2id (argon2-cffi).

``verify`` always runs one argon2 verification, against a dummy hash when the
account does not exist, so response time does not reveal which login
accounts exist (full-stack-fastapi-template's habit).
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update

from shared.db import Database
from shared.metrics import PASSWORD_VERIFY

__all__ = ["PasswordService", "rehash_after_login"]


class PasswordService:
    def __init__(self, *, time_cost: int = 2, memory_cost: int = 19456, parallelism: int = 1) -> None:
        # OWASP's argon2id minimum (19 MiB, t=2, p=1).
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)
        self._dummy = self._hasher.hash("dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        with PASSWORD_VERIFY.time():
            try:
                return self._hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
            except (VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def rehash_after_login(db: Database, passwords: PasswordService, model: Any, *, account_id: Any, checked_hash: str, password: str) -> bool:
    """After a successful login, store the password again under the current
    argon2 parameters if its hash is outdated.

    Compare-and-set on the hash that was checked: if the password was
    changed or reset in the meantime, the new one stays (an unconditional
    update would quietly bring the old password back). ``model`` is any
    mapped class with ``id`` and ``password_hash``. True when rewritten."""
    if not checked_hash or not passwords.needs_rehash(checked_hash):
        return False
    new_hash = passwords.hash(password)  # argon2 runs outside the transaction
    with db.transaction() as s:
        result = s.execute(update(model).where(model.id == account_id, model.password_hash == checked_hash).values(password_hash=new_hash))
        return result.rowcount == 1
