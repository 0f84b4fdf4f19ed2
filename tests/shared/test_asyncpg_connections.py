"""The hot paths' asyncpg connections (shared.asyncpg_connections): bounded,
first come first served, and a connection whose call broke is not reused.

Most tests drive the set with stand-in connections (each call a future the
test finishes), so that who waits and who is served can be checked
exactly; the last ones run against PostgreSQL when ``TEST_DATABASE_URL``
is set."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from shared.asyncpg_connections import Connections
from tests.oidc_helpers import run


class StandIn:
    """A connection whose every call waits until the test answers it."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.calls: list[asyncio.Future] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        call = asyncio.get_running_loop().create_future()
        self.calls.append(call)
        return await call

    execute = fetch

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.closed = True

    async def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self) -> None:
        self.opened: list[StandIn] = []

    async def __call__(self) -> StandIn:
        conn = StandIn(len(self.opened) + 1)
        self.opened.append(conn)
        return conn


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_connections_are_opened_when_needed_up_to_the_size_and_then_callers_wait_in_turn() -> None:
    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=2)
        calls = [asyncio.create_task(connections.fetch(f"SELECT {n}")) for n in range(4)]
        await settle()
        seen = [len(opener.opened)]  # two open, two callers waiting
        first = opener.opened[0]
        first.calls[0].set_result(["one"])
        await settle()
        # The first caller in line is served next, on the connection just put back.
        seen.append([len(first.calls), len(opener.opened)])
        first.calls[1].set_result(["three"])
        opener.opened[1].calls[0].set_result(["two"])
        await settle()
        for conn in opener.opened:
            for call in conn.calls:
                if not call.done():
                    call.set_result(["four"])
        seen.append(await asyncio.gather(*calls))
        seen.append(len(opener.opened))
        return seen

    assert run(scenario) == [2, [2, 2], [["one"], ["two"], ["three"], ["four"]], 2]


def test_a_caller_cancelled_while_waiting_takes_nothing_with_it() -> None:
    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=1)
        busy = asyncio.create_task(connections.fetch("SELECT 1"))
        await settle()
        gave_up = asyncio.create_task(connections.fetch("SELECT 2"))
        after = asyncio.create_task(connections.fetch("SELECT 3"))
        await settle()
        gave_up.cancel()
        opener.opened[0].calls[0].set_result(["busy"])
        await settle()
        # The connection went past the cancelled caller to the next one.
        opener.opened[0].calls[1].set_result(["after"])
        return [await busy, await after, gave_up.cancelled(), len(opener.opened), len(opener.opened[0].calls)]

    assert run(scenario) == [["busy"], ["after"], True, 1, 2]


def test_a_connection_whose_call_broke_is_closed_and_a_waiting_caller_opens_another() -> None:
    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=1)
        broken = asyncio.create_task(connections.fetch("SELECT 1"))
        waiting = asyncio.create_task(connections.fetch("SELECT 2"))
        await settle()
        opener.opened[0].calls[0].set_exception(ConnectionResetError("the server went away"))
        await settle()
        opener.opened[1].calls[0].set_result(["fresh"])
        with pytest.raises(ConnectionResetError):
            await broken
        return [await waiting, opener.opened[0].closed, opener.opened[1].closed]

    assert run(scenario) == [["fresh"], True, False]


def test_a_call_cancelled_mid_statement_does_not_hand_its_connection_on() -> None:
    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=1)
        cancelled = asyncio.create_task(connections.fetch("SELECT pg_sleep(10)"))
        await settle()
        cancelled.cancel()
        await settle()
        later = asyncio.create_task(connections.fetch("SELECT 1"))
        await settle()
        opener.opened[-1].calls[-1].set_result(["ok"])
        return [await later, opener.opened[0].closed, len(opener.opened)]

    assert run(scenario) == [["ok"], True, 2]


def test_a_failed_open_frees_its_place() -> None:
    attempts = []

    async def flaky() -> StandIn:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("connection refused")
        return StandIn(len(attempts))

    async def scenario() -> list:
        connections = Connections(flaky, size=1)
        with pytest.raises(OSError):
            await connections.open()
        await connections.open()  # the place the failed open held is free again
        return [len(attempts)]

    assert run(scenario) == [2]


def test_a_connection_ended_while_idle_is_not_handed_out() -> None:
    """After a database restart the idle connections are closed: the next
    caller gets a new connection, not a failed call."""

    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=2)
        await connections.open()
        opener.opened[0].closed = True  # the server went away meanwhile
        call = asyncio.create_task(connections.fetch("SELECT 1"))
        await settle()
        opener.opened[-1].calls[0].set_result(["fresh"])
        return [await call, len(opener.opened), opener.opened[-1].number]

    assert run(scenario) == [["fresh"], 2, 2]


def test_a_freed_place_goes_to_the_first_caller_waiting_not_to_a_newcomer() -> None:
    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=1)
        broken = asyncio.create_task(connections.fetch("SELECT 1"))
        await settle()
        first = asyncio.create_task(connections.fetch("SELECT 2"))
        await settle()
        opener.opened[0].calls[0].set_exception(ConnectionResetError("gone"))
        newcomer = asyncio.create_task(connections.fetch("SELECT 3"))
        await settle()
        # The first in line opened the new connection; the newcomer waits behind it.
        second = opener.opened[1]
        second.calls[0].set_result(["first"])
        await settle()
        second.calls[1].set_result(["newcomer"])
        with pytest.raises(ConnectionResetError):
            await broken
        return [await first, await newcomer, len(opener.opened)]

    assert run(scenario) == [["first"], ["newcomer"], 2]


def test_closing_tells_the_callers_waiting_and_closes_the_rest_as_their_calls_end() -> None:
    async def scenario() -> list:
        opener = Opener()
        connections = Connections(opener, size=1)
        busy = asyncio.create_task(connections.fetch("SELECT 1"))
        await settle()
        waiting = [asyncio.create_task(connections.fetch("SELECT 2")) for _ in range(2)]
        await settle()
        await connections.close()
        opener.opened[0].calls[0].set_result(["done"])
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        with pytest.raises(RuntimeError):
            await connections.fetch("SELECT 3")
        return [await busy, [type(outcome).__name__ for outcome in outcomes], opener.opened[0].closed]

    assert run(scenario) == [["done"], ["RuntimeError", "RuntimeError"], True]


postgres = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")


def _dsn() -> str:
    from sqlalchemy.engine import make_url

    return make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)


@postgres
def test_on_postgresql_an_error_the_server_reports_keeps_the_connection_and_a_lost_one_is_replaced() -> None:
    import asyncpg

    async def scenario() -> list:
        connections = Connections(lambda: asyncpg.connect(_dsn()), size=1)
        await connections.open()
        try:
            pid = await connections.fetchrow("SELECT pg_backend_pid()")
            with pytest.raises(asyncpg.DivisionByZeroError):
                await connections.fetch("SELECT 1 / 0")
            same = await connections.fetchrow("SELECT pg_backend_pid()")
            # The server ends the connection (a restart, an administrator).
            async with asyncio.timeout(10):
                killer = await asyncpg.connect(_dsn())
                await killer.execute("SELECT pg_terminate_backend($1)", pid[0])
                await killer.close()
            # Once asyncpg has seen the connection end (the socket's end,
            # read by the loop), it is not handed out again: the next call
            # runs on a new connection instead of failing.
            for _ in range(100):
                if connections._idle[0].is_closed():
                    break
                await asyncio.sleep(0.01)
            fresh = await connections.fetchrow("SELECT pg_backend_pid()")
            return [same[0] == pid[0], fresh[0] != pid[0], await connections.execute("SELECT 1")]
        finally:
            await connections.close()

    assert run(scenario) == [True, True, "SELECT 1"]
