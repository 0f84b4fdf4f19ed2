"""Password login with lockout, the checks every login form of the chain makes
(the seed's 账号密码 method; the staff consoles add a second factor through
:mod:`shared.staff_totp`).

A service gives an account lookup (:data:`Lookup`) and turns the typed
:data:`Outcome` into its own Chinese message. What is checked, in order:

1. both fields given (:class:`Missing`);
2. the client address has not failed too often (:class:`Throttled`);
3. the account is not locked (:class:`Locked`), *before* its password is
   checked, so a locked account cannot be used as a password oracle;
4. the password, with argon2id against a dummy hash when no such account
   exists, so timing does not tell which accounts exist; then the second
   factor, if any; a failure of either counts against the account and the
   address (:class:`Wrong`, ``left == 0`` when that failure locked it);
5. the account is active (:class:`Disabled`), then the service's own
   admission rule (:class:`NotAdmitted`);
6. success resets the account's counter and stores the password again under
   the current argon2 parameters if needed (:class:`LoggedIn`).

Counters are read and written outside the database transaction, and argon2
runs outside it too, so a slow hash never holds a lock.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shared.db import Database
from shared.passwords import PasswordService, rehash_after_login
from shared.ratelimit import Limiter, acounted, counted

__all__ = [
    "Credentials",
    "Lookup",
    "ALookup",
    "Factor",
    "PasswordLogin",
    "Outcome",
    "LoggedIn",
    "Missing",
    "Throttled",
    "Locked",
    "Wrong",
    "Replayed",
    "Disabled",
    "NotAdmitted",
]


@dataclass(frozen=True)
class Credentials:
    """What a login needs to know of an account, detached from the session."""

    id: Any
    password_hash: str | None
    active: bool
    # Whatever the service wants back after a login (a detached row, a login
    # generation …); the shared code never looks inside.
    account: Any = None
    # The account's second-factor secret as stored (encrypted), for staff.
    totp_secret_encrypted: str | None = None


# Finds an account by its login name inside a transaction; None when there is none.
Lookup = Callable[[Session, str], Credentials | None]
# The same on the event loop (see :meth:`PasswordLogin.aauthenticate`).
ALookup = Callable[[str], Awaitable[Credentials | None]]


class Factor(enum.Enum):
    """What a second-factor check found (see :meth:`PasswordLogin.authenticate`)."""

    OK = "ok"
    WRONG = "wrong"  # counted like a wrong password
    REPLAYED = "replayed"  # a right code already used: refused, not counted


@dataclass(frozen=True)
class LoggedIn:
    id: Any
    account: Any


@dataclass(frozen=True)
class Missing:
    """The login name, the password (or the code) was left empty."""


@dataclass(frozen=True)
class Throttled:
    """Too many failures from this client address; ``seconds`` is the window."""

    seconds: int


@dataclass(frozen=True)
class Locked:
    """The account is locked for (at most) ``seconds``, the counter's window."""

    seconds: int


@dataclass(frozen=True)
class Wrong:
    """A wrong password or code; ``left`` attempts remain (0: now locked for ``seconds``)."""

    left: int
    seconds: int


@dataclass(frozen=True)
class Replayed:
    """A right one-time code that was already used (RFC 6238 §5.2)."""


@dataclass(frozen=True)
class Disabled:
    """Right credentials of an account that is not active."""


@dataclass(frozen=True)
class NotAdmitted:
    """Right credentials, refused by the service's own rule (``reason`` is its key)."""

    reason: str


Outcome = LoggedIn | Missing | Throttled | Locked | Wrong | Replayed | Disabled | NotAdmitted


class PasswordLogin:
    def __init__(
        self,
        *,
        model: Any,
        passwords: PasswordService,
        per_account: Limiter,
        per_address: Limiter | None = None,
        lookup: Lookup | None = None,
        alookup: ALookup | None = None,
    ) -> None:
        # One of the two: ``lookup`` for authenticate (in a thread), ``alookup`` for aauthenticate.
        if lookup is None and alookup is None:
            raise TypeError("a password login needs lookup or alookup")
        self.lookup = lookup
        self.alookup = alookup
        self.model = model  # the mapped account class (``id``, ``password_hash``): rehashed after login
        self.passwords = passwords
        self.per_account = per_account
        self.per_address = per_address

    @property
    def window_seconds(self) -> int:
        return self.per_account.window_seconds

    def authenticate(
        self,
        db: Database,
        *,
        login_name: str,
        password: str,
        address: str | None = None,
        second_factor: Callable[[Credentials], Factor] | None = None,
        admit: Callable[[Credentials], str | None] | None = None,
    ) -> Outcome:
        """Check a login. ``second_factor`` runs only after the right password
        (a code is never checked, nor spent, for someone who does not know
        it); ``admit`` returns the key of a service rule the account fails."""
        login_name = (login_name or "").strip()
        if not login_name or not password:
            return Missing()
        failures, *from_address = counted(self._checks(login_name, address))
        if (refused := self._refused(failures, from_address)) is not None:
            return refused
        if self.lookup is None:
            raise TypeError("this login reads its accounts on the event loop only: use aauthenticate")
        with db.session(autocommit=True) as s:  # one read
            found = self.lookup(s, login_name)
        return self._settle(db, found, failures, login_name, password, address, second_factor, admit)

    async def aauthenticate(
        self,
        db: Database,
        *,
        login_name: str,
        password: str,
        address: str | None = None,
        admit: Callable[[Credentials], str | None] | None = None,
    ) -> Outcome:
        """``authenticate`` for a route on the event loop: with ``alookup``
        the counters and the account are read there, together, and only the
        hash (with what a failure, a reset or a rehash writes) goes to a
        worker thread; on PostgreSQL a thread's statement cost several times
        an asyncpg call on the loop (make bench-peer's login flow)."""
        login_name = (login_name or "").strip()
        if not login_name or not password:
            return Missing()
        if self.alookup is None:
            given = {"login_name": login_name, "password": password, "address": address, "admit": admit}
            return await run_in_threadpool(lambda: self.authenticate(db, **given))
        # The account is read even when the counters refuse: a read, which
        # says nothing to the client, so both can be read at once.
        (failures, *from_address), found = await asyncio.gather(acounted(self._checks(login_name, address)), self.alookup(login_name))
        if (refused := self._refused(failures, from_address)) is not None:
            return refused
        return await run_in_threadpool(self._settle, db, found, failures, login_name, password, address, None, admit)

    def _checks(self, login_name: str, address: str | None) -> list[tuple[Limiter, str]]:
        """The account's counter, then the address's (when there is one)."""
        by_address = [(self.per_address, address)] if self.per_address is not None and address is not None else []
        return [(self.per_account, login_name), *by_address]

    def _refused(self, failures: int, from_address: list[int]) -> Outcome | None:
        window = self.per_account.window_seconds
        if self.per_address is not None and from_address and from_address[0] >= self.per_address.limit:
            return Throttled(window)
        if failures >= self.per_account.limit:
            return Locked(window)
        return None

    def _settle(
        self,
        db: Database,
        found: Credentials | None,
        failures: int,
        login_name: str,
        password: str,
        address: str | None,
        second_factor: Callable[[Credentials], Factor] | None,
        admit: Callable[[Credentials], str | None] | None,
    ) -> Outcome:
        """The password (argon2id, in the caller's thread) and what follows it."""
        factor = Factor.OK
        right = self.passwords.verify(found.password_hash if found else None, password) and found is not None
        if right and second_factor is not None:
            factor = second_factor(found)
        if not right or factor is Factor.WRONG:
            # Only failures count against an address: an office behind one NAT
            # address may log in many times legitimately.
            if self.per_address is not None and address is not None:
                self.per_address.hit(address)
            return Wrong(left=self.per_account.hit(login_name), seconds=self.per_account.window_seconds)
        if factor is Factor.REPLAYED:
            return Replayed()
        if not found.active:
            return Disabled()
        if admit is not None and (reason := admit(found)) is not None:
            return NotAdmitted(reason)
        if failures:
            # Most logins follow no failure: nothing to reset, and no delete
            # (a commit that waits for the disk) on their way in. A failure
            # counted meanwhile by a concurrent attempt stays counted.
            self.per_account.reset(login_name)
        rehash_after_login(db, self.passwords, self.model, account_id=found.id, checked_hash=found.password_hash or "", password=password)
        return LoggedIn(id=found.id, account=found.account)

    def unlock(self, login_name: str) -> None:
        """After a password reset the account may be tried again at once."""
        self.per_account.reset(login_name)
