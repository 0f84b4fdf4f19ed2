"""The provider's hot-path queries on the event loop, without a thread.

A token or introspection request handed to a worker thread and run through
an ORM session spent more CPU on the hand-off, the session and statement
execution than on the protocol (``make bench --profile``). The few queries
these paths need -- a client row, a token row, a new token row -- are run
here on an asynchronous connection:

* PostgreSQL: asyncpg's pool (its protocol is compiled; per query it cost a
  third of psycopg's asynchronous connections and a tenth of SQLAlchemy's
  asyncio extension in a micro-benchmark here), SQL text compiled once with
  SQLAlchemy's asyncpg dialect from the same statements :mod:`.store` uses,
  so the schema has one definition; asyncpg prepares and caches them.
* Anything else (SQLite in development and tests): the synchronous engine
  in a worker thread, as before; SQLite does not gain from asyncio.

Rows come back as the same tuples :mod:`.store` builds its objects from.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from starlette.concurrency import run_in_threadpool

from shared.db import Database
from shared.oauth.provider.store import TOKEN_INSERT_COLUMNS, statements
from shared.oauth.provider.tables import ProviderTables

__all__ = ["AsyncProviderStore", "open_async_store", "Coalescer"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncProviderStore(Protocol):
    async def client_row(self, client_id: str) -> tuple | None: ...

    async def token_row(self, kind: str, token_hash: str) -> tuple | None: ...

    async def insert_token(self, values: dict[str, Any]) -> None: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...


class ThreadedStore:
    """The synchronous engine, one short transaction per call, in a thread."""

    def __init__(self, db: Database, tables: ProviderTables) -> None:
        self.db = db
        self.q = statements(tables)

    def _one(self, statement: ClauseElement, params: dict[str, Any]) -> tuple | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(statement, params).first()
        return None if row is None else tuple(row)

    async def client_row(self, client_id: str) -> tuple | None:
        return await run_in_threadpool(self._one, self.q.client_by_id, {"b_client_id": client_id})

    async def token_row(self, kind: str, token_hash: str) -> tuple | None:
        statement = self.q.token_by_access if kind == "access" else self.q.token_by_refresh
        return await run_in_threadpool(self._one, statement, {"b_hash": token_hash})

    async def insert_token(self, values: dict[str, Any]) -> None:
        def insert() -> None:
            with self.db.engine.begin() as conn:
                conn.execute(self.q.insert_token, values)

        await run_in_threadpool(insert)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None


class AsyncpgStore:
    """asyncpg connections, SQL compiled from :mod:`.store`'s statements.

    New token rows are written in batches (:class:`Coalescer`): whatever
    requests arrive while a write is in flight go together in the next one,
    one transaction and one commit for all of them, and each request answers
    only once its row is committed; one commit per token would bound the rate
    at connections ÷ flush time. Token lookups are batched the same way (one
    ``= ANY($1)`` query), which halves their per-request cost under load.
    """

    def __init__(self, db: Database, tables: ProviderTables, *, pool_size: int, max_batch: int = 256) -> None:
        from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

        dialect = asyncpg_dialect()
        q = statements(tables)
        self._client_sql = _compiled(q.client_by_id, dialect)
        self._tokens_sql = {kind: _compiled(q.tokens_by_hashes(kind), dialect)[0] for kind in ("access", "refresh")}
        self._insert_sql = _compiled(q.insert_token, dialect, column_keys=TOKEN_INSERT_COLUMNS)
        url = make_url(db.url)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool_size = pool_size
        self._pool: Any = None
        # One batch in flight per kind: under load the batches grow instead of
        # the round trips multiplying (measured: more in flight cost CPU, not time).
        per_kind = 1
        self._writes = Coalescer(self._write_batch, max_batch=max_batch, concurrency=per_kind)
        self._reads = {
            kind: Coalescer(functools.partial(self._read_batch, kind), max_batch=max_batch, concurrency=per_kind)
            for kind in ("access", "refresh")
        }

    async def open(self) -> None:
        import asyncpg

        async def init(conn: Any) -> None:
            # JSON columns as Python values both ways, like SQLAlchemy's JSON type.
            await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

        async def keep_session(conn: Any) -> None:
            # The default reset runs RESET ALL, UNLISTEN *, … on every release: a
            # round trip per query. These statements change no session state
            # (no SET, LISTEN or advisory lock; transactions are context-managed).
            return None

        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._pool_size, init=init, reset=keep_session)

    async def client_row(self, client_id: str) -> tuple | None:
        row = await self._pool.fetchrow(self._client_sql[0], client_id)
        return None if row is None else tuple(row)

    async def token_row(self, kind: str, token_hash: str) -> tuple | None:
        return await self._reads[kind].submit(token_hash)

    async def _read_batch(self, kind: str, hashes: list[str]) -> list[tuple | None]:
        # One query for the lookups that arrived together; the hash comes back
        # as the first column so rows find their requests.
        rows = {row[0]: tuple(row)[1:] for row in await self._pool.fetch(self._tokens_sql[kind], list(set(hashes)))}
        return [rows.get(h) for h in hashes]

    async def insert_token(self, values: dict[str, Any]) -> None:
        sql, names = self._insert_sql
        await self._writes.submit(tuple(values[name] for name in names))

    async def _write_batch(self, rows: list[tuple]) -> list[None]:
        # executemany is atomic by itself (one implicit transaction, one
        # commit); an explicit BEGIN and COMMIT would add two round trips.
        await self._pool.executemany(self._insert_sql[0], rows)
        return [None] * len(rows)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


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


def _compiled(statement: ClauseElement, dialect: Any, *, column_keys: tuple[str, ...] | None = None) -> tuple[str, tuple[str, ...]]:
    """SQL text with asyncpg's ``$n`` placeholders, and the parameter names in their order."""
    compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
    return compiled.string, tuple(compiled.positiontup or ())


def open_async_store(db: Database, tables: ProviderTables, *, pool_size: int = 4) -> AsyncProviderStore:
    if db.engine.dialect.name == "postgresql":
        return AsyncpgStore(db, tables, pool_size=pool_size)
    return ThreadedStore(db, tables)
