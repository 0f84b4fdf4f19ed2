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
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from starlette.concurrency import run_in_threadpool

from shared.db import Database
from shared.oauth.provider.store import TOKEN_INSERT_COLUMNS, statements
from shared.oauth.provider.tables import ProviderTables

__all__ = ["AsyncProviderStore", "open_async_store"]


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

    New token rows are written in batches: whatever requests arrive while a
    write is in flight go together in the next one, one transaction and one
    commit for all of them, and each request answers only once its row is
    committed. At low load a batch is one row and nothing waits; under load
    the commit's disk flush is shared, where one commit per token would
    bound the rate at connections ÷ flush time.
    """

    def __init__(self, db: Database, tables: ProviderTables, *, pool_size: int, max_batch: int = 256) -> None:
        from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

        dialect = asyncpg_dialect()
        q = statements(tables)
        self._client_sql = _compiled(q.client_by_id, dialect)
        self._token_sql = {"access": _compiled(q.token_by_access, dialect), "refresh": _compiled(q.token_by_refresh, dialect)}
        self._insert_sql = _compiled(q.insert_token, dialect, column_keys=TOKEN_INSERT_COLUMNS)
        url = make_url(db.url)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool_size = pool_size
        self._pool: Any = None
        self._writes = BatchWriter(self._write_batch, max_batch=max_batch, concurrency=max(1, pool_size // 2))

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
        row = await self._pool.fetchrow(self._token_sql[kind][0], token_hash)
        return None if row is None else tuple(row)

    async def insert_token(self, values: dict[str, Any]) -> None:
        sql, names = self._insert_sql
        await self._writes.submit(tuple(values[name] for name in names))

    async def _write_batch(self, rows: list[tuple]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(self._insert_sql[0], rows)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


class BatchWriter:
    """Coalesces concurrent writes: ``submit`` returns once its item is
    committed (or raises what its own write raised)."""

    def __init__(self, write: Callable[[list[Any]], Awaitable[None]], *, max_batch: int, concurrency: int) -> None:
        self._write = write
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._waiting: list[tuple[Any, asyncio.Future]] = []
        self._running = 0
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, item: Any) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running < self._concurrency:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                try:
                    await self._write([item for item, _ in batch])
                except Exception:
                    # One bad row must not fail the others: write them one by one.
                    for item, future in batch:
                        await self._write_one(item, future)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._running -= 1

    async def _write_one(self, item: Any, future: asyncio.Future) -> None:
        try:
            await self._write([item])
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(None)


def _compiled(statement: ClauseElement, dialect: Any, *, column_keys: tuple[str, ...] | None = None) -> tuple[str, tuple[str, ...]]:
    """SQL text with asyncpg's ``$n`` placeholders, and the parameter names in their order."""
    compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
    return compiled.string, tuple(compiled.positiontup or ())


def open_async_store(db: Database, tables: ProviderTables, *, pool_size: int = 4) -> AsyncProviderStore:
    if db.engine.dialect.name == "postgresql":
        return AsyncpgStore(db, tables, pool_size=pool_size)
    return ThreadedStore(db, tables)
