"""Reads on the event loop, for the few hot paths that cannot afford a thread.

A request handed to a worker thread and run through an ORM session spent
more CPU on the hand-off, the session and statement execution than on its
own work (``make bench-peer --profile``, ``make bench-chain --profile``).
The hot paths' queries therefore run here on an asynchronous connection:

* PostgreSQL: asyncpg connections (per query about a third of psycopg's
  asynchronous connections and a tenth of SQLAlchemy's asyncio extension in
  a micro-benchmark here), handed out by :mod:`shared.asyncpg_connections`
  rather than asyncpg's pool, whose per-call bookkeeping cost as much again. SQL text is compiled once, with SQLAlchemy's
  asyncpg dialect, from the same SQLAlchemy statements the synchronous code
  uses, so the schema keeps one definition; asyncpg prepares and caches it.
* Anything else (SQLite in development and tests): the synchronous engine
  in a worker thread; SQLite does not gain from asyncio.

Connections belong to the event loop that opened them (the app's lifespan).
A call from another loop (an in-process test client outside the lifespan)
takes the threaded way, so the answer is the same either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from starlette.concurrency import run_in_threadpool

from shared.asyncpg_connections import Connections
from shared.db import Database

__all__ = ["AsyncReads", "Coalescer", "KeyedLookup", "asyncpg_sql", "create_asyncpg_pool", "running_loop"]


T = TypeVar("T")
R = TypeVar("R")


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def asyncpg_sql(statement: ClauseElement, *, column_keys: tuple[str, ...] | None = None) -> tuple[str, tuple[str, ...]]:
    """SQL text with asyncpg's ``$n`` placeholders, and the parameter names in their order."""
    compiled = _asyncpg_compiled(statement, column_keys)
    return compiled.string, tuple(compiled.positiontup or ())


def _asyncpg_compiled(statement: ClauseElement, column_keys: tuple[str, ...] | None = None) -> Any:
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

    return statement.compile(dialect=asyncpg_dialect(), column_keys=list(column_keys) if column_keys else None)


async def create_asyncpg_pool(db: Database, *, size: int, durable: bool = True) -> Connections:
    """Up to ``size`` connections (see :mod:`shared.asyncpg_connections`).
    ``durable=False``: commits do not wait for the write-ahead log's disk
    flush (``synchronous_commit = off``), for short-lived state only (see
    shared.kvstore)."""
    import asyncpg

    async def init(conn: Any) -> None:
        # JSON columns as Python values both ways, like SQLAlchemy's JSON type.
        await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    dsn = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    settings = {} if durable else {"synchronous_commit": "off"}

    # No reset between callers: the hot paths change no session state (no
    # SET, LISTEN or advisory lock; every call is one autocommitted statement).
    async def connect() -> Any:
        conn = await asyncpg.connect(dsn, server_settings=settings)
        try:
            await init(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    connections = Connections(connect, size=size)
    await connections.open()
    return connections


class AsyncReads:
    """``fetch(statement, params)``: the rows as tuples, on the loop where it can.
    ``write(statement, params, durable=…)``: one statement committed on its
    own, for short-lived state written from the loop (sessions).

    ``statement`` is a SQLAlchemy statement built once (a module constant or
    an attribute): its compiled SQL is kept by identity.
    """

    def __init__(self, db: Database, *, pool_size: int) -> None:
        self.db = db
        self._pool_size = pool_size
        self._pool: Any = None
        # Writes that need not wait for the disk flush: a second, small pool
        # whose sessions have synchronous_commit off (a per-statement SET
        # would cost a transaction's round trips around each write).
        self._unflushed: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sql: dict[int, tuple[ClauseElement, str, tuple[str, ...], dict[str, Any]]] = {}

    @property
    def pool(self) -> Any:
        """The asyncpg pool, for callers that batch their own statements; only while :attr:`on_loop`."""
        if not self.on_loop:
            raise RuntimeError("the asyncpg pool belongs to the serving event loop")
        return self._pool

    @property
    def on_loop(self) -> bool:
        return self._pool is not None and running_loop() is self._loop

    async def open(self) -> None:
        """In the event loop that will serve the requests (the app's lifespan)."""
        if self.db.engine.dialect.name == "postgresql" and self._pool is None:
            self._pool = await create_asyncpg_pool(self.db, size=self._pool_size)
            self._unflushed = await create_asyncpg_pool(self.db, size=max(1, self._pool_size // 2), durable=False)
            self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        if self._pool is not None:
            pools, self._pool, self._unflushed, self._loop = (self._pool, self._unflushed), None, None, None
            for pool in pools:
                await pool.close()

    async def fetch(self, statement: ClauseElement, params: dict[str, Any]) -> list[tuple]:
        if not self.on_loop:
            return await run_in_threadpool(self._fetch_threaded, statement, params)
        sql, args = self._bound(statement, params)
        return [tuple(row) for row in await self._pool.fetch(sql, *args)]

    async def write(self, statement: ClauseElement, params: dict[str, Any], *, durable: bool) -> None:
        """``statement`` committed on its own; only while :attr:`on_loop`
        (callers take their synchronous way otherwise)."""
        sql, args = self._bound_on_loop(statement, params)
        await (self._pool if durable else self._unflushed).execute(sql, *args)

    async def write_returning(self, statement: ClauseElement, params: dict[str, Any], *, durable: bool) -> list[tuple]:
        """``write``, and the rows of the statement's ``RETURNING`` clause."""
        sql, args = self._bound_on_loop(statement, params)
        return [tuple(row) for row in await (self._pool if durable else self._unflushed).fetch(sql, *args)]

    def _bound_on_loop(self, statement: ClauseElement, params: dict[str, Any]) -> tuple[str, list[Any]]:
        if not self.on_loop:
            raise RuntimeError("the asyncpg pools belong to the serving event loop")
        return self._bound(statement, params)

    def _bound(self, statement: ClauseElement, params: dict[str, Any]) -> tuple[str, list[Any]]:
        entry = self._sql.get(id(statement))
        # The statement is kept in the entry, so its id cannot be reused by another.
        if entry is None or entry[0] is not statement:
            compiled = _asyncpg_compiled(statement)
            # Values fixed in the statement (``values(counter=0)``) are bind parameters too.
            entry = (statement, compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))
            self._sql[id(statement)] = entry
        _, sql, names, fixed = entry
        return sql, [params[name] if name in params else fixed[name] for name in names]

    def _fetch_threaded(self, statement: ClauseElement, params: dict[str, Any]) -> list[tuple]:
        with self.db.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(statement, params)]


class KeyedLookup:
    """The rows for one key, read together with the keys that other requests
    asked for at the same moment: under load one query serves many requests.

    ``one`` selects the rows of ``:key``; ``many`` (PostgreSQL, ``= ANY``)
    the rows of ``:keys``. Both lead each row with its key, which is dropped
    from the rows returned. Off the serving loop, ``one`` runs in a thread.
    """

    def __init__(self, reads: AsyncReads, *, one: ClauseElement, many: ClauseElement, max_batch: int = 256) -> None:
        self._reads, self._one, self._many = reads, one, many
        # One batch in flight: under load the batches grow instead of the
        # round trips multiplying (measured on the provider's token lookups).
        self._batches = Coalescer(self._fetch_batch, max_batch=max_batch, concurrency=1)

    async def rows(self, key: Any) -> list[tuple]:
        if not self._reads.on_loop:
            return [row[1:] for row in await self._reads.fetch(self._one, {"key": key})]
        return await self._batches.submit(key)

    async def _fetch_batch(self, keys: list[Any]) -> list[list[tuple]]:
        found: dict[Any, list[tuple]] = {}
        for row in await self._reads.fetch(self._many, {"keys": list(set(keys))}):
            found.setdefault(row[0], []).append(row[1:])
        return [found.get(key, []) for key in keys]


class Coalescer(Generic[T, R]):
    """Runs the requests that arrive together as one batch.

    ``submit`` returns the result for its own item once the batch that
    carried it has finished. Up to ``concurrency`` batches are in flight; a
    request that arrives while they all are waits for the next one, so at
    low load a batch is one item and nothing waits, and under load the
    per-batch costs (a round trip, a commit's disk flush) are shared.
    If a batch fails, its items are run alone, so that one bad item fails
    only its own request.
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], *, max_batch: int, concurrency: int) -> None:
        self._run = run
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._waiting: list[tuple[T, asyncio.Future]] = []
        self._running = 0
        self._tasks: set[asyncio.Task] = set()
        self.batches = 0  # how many batches ran (for tests and metrics)

    async def submit(self, item: T) -> R:
        # Even a batch of one goes through the drain task, not the caller's
        # own task: the hop lets the requests that arrive in the same turn of
        # the event loop join the batch. Run by the caller instead, a lone
        # first item went alone and the rest waited for the next batch: the
        # refund API (32 connections) made twice the queries, 131 -> 229 µs
        # of CPU per request (make bench-chain).
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running < self._concurrency:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                self.batches += 1
                try:
                    results = await self._run([item for item, _ in batch])
                except Exception:
                    for item, future in batch:
                        await self._alone(item, future)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._running -= 1

    async def _alone(self, item: T, future: asyncio.Future) -> None:
        try:
            (result,) = await self._run([item])
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)
