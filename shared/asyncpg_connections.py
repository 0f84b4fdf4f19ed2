"""A bounded set of asyncpg connections for one-statement calls.

Why not ``asyncpg.Pool``: every call through it (``Pool.fetch`` and the
like) acquires and releases a connection with timeouts, a shielded release
task and an inactivity timer per connection. On this machine that was
~45 µs of CPU per call, as much again as the query's own client-side work
(``make bench-peer``'s login flow makes 19 such calls; a micro-benchmark of
one indexed SELECT: 95 µs of CPU through the pool, 50 µs here). The hot
paths only ever run one autocommitted statement per call, which needs none
of that: a connection is taken from a list, used, and put back.

What is kept of a pool's guarantees:

* at most ``size`` connections, opened when first needed; a caller beyond
  that waits for the first one put back (first come, first served);
* a connection whose call failed for any reason but an error PostgreSQL
  reported (the connection lost, the call cancelled mid-statement) is
  closed and not reused, and one that was ended while idle is skipped; the
  place goes to the first caller waiting, who opens a new one;
* a caller cancelled while it waits takes nothing with it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Connections"]

# Handed to a waiter instead of a connection: a place is reserved for it, to open one in.
_OPEN = object()


class Connections:
    def __init__(self, connect: Callable[[], Awaitable[Any]], *, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._connect = connect
        self._size = size
        self._opened = 0  # connections open or being opened
        self._idle: collections.deque[Any] = collections.deque()
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._closed = False

    async def open(self) -> None:
        """One connection now, so that a wrong address or password fails at start-up."""
        self._release(await self._acquire())

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._call("fetch", sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._call("fetchrow", sql, args)

    async def execute(self, sql: str, *args: Any) -> str:
        return await self._call("execute", sql, args)

    async def _call(self, method: str, sql: str, args: tuple) -> Any:
        import asyncpg

        conn = await self._acquire()
        try:
            result = await getattr(conn, method)(sql, *args)
        except asyncpg.QueryCanceledError:
            # The server's statement_timeout: the statement ended, the connection is idle and sound.
            self._release(conn)
            raise
        except (asyncpg.OperatorInterventionError, asyncpg.PostgresConnectionError):
            # The server ending the session (an administrator, a shutdown).
            self._discard(conn)
            raise
        except asyncpg.PostgresError:
            # Reported by the server (a constraint, a bad value): the
            # connection is in a clean state, outside any transaction.
            self._release(conn)
            raise
        except BaseException:
            self._discard(conn)
            raise
        self._release(conn)
        return result

    async def _acquire(self) -> Any:
        if self._closed:
            raise RuntimeError("these connections are closed")
        while self._idle:
            conn = self._idle.pop()  # the most recently used: warm, and the others may idle
            if not conn.is_closed():
                return conn
            # Ended while idle (the server restarted, an idle timeout): its place is free.
            conn.terminate()
            self._opened -= 1
        if self._opened < self._size:
            self._opened += 1
            return await self._open_reserved()
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            # Handed a connection (or a place) in the same moment as
            # cancelled: give it on to the next caller.
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())
            raise
        return await self._open_reserved() if handed is _OPEN else handed

    async def _open_reserved(self) -> Any:
        """A new connection in a place already counted in ``_opened``."""
        try:
            return await self._connect()
        except BaseException:
            self._opened -= 1
            self._offer_place()
            raise

    def _give_back(self, handed: Any) -> None:
        if handed is _OPEN:
            self._opened -= 1
            self._offer_place()
        else:
            self._release(handed)

    def _next_waiter(self) -> asyncio.Future | None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled waiter is skipped
                return waiter
        return None

    def _release(self, conn: Any) -> None:
        if self._closed or conn.is_closed():
            self._discard(conn)
            return
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)
        else:
            self._idle.append(conn)

    def _discard(self, conn: Any) -> None:
        conn.terminate()
        self._opened -= 1
        self._offer_place()

    def _offer_place(self) -> None:
        """A place came free: reserved for the first waiter, which opens a
        connection in it (a caller arriving meanwhile does not take it)."""
        if self._closed:
            return
        waiter = self._next_waiter()
        if waiter is not None:
            self._opened += 1
            waiter.set_result(_OPEN)

    async def close(self) -> None:
        """Idle connections are closed now, those in use when their calls end;
        callers still waiting are told the connections are closed."""
        self._closed = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeError("these connections are closed"))
        while self._idle:
            conn = self._idle.pop()
            self._opened -= 1
            await conn.close()
