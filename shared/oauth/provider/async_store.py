"""The provider's hot-path queries on the event loop, without a thread.

A token or introspection request handed to a worker thread and run through
an ORM session spent more CPU on the hand-off, the session and statement
execution than on the protocol (``make bench --profile``). The few queries
these paths need -- a client row, a token row, a new token row -- are run
here on an asynchronous connection:

* PostgreSQL: the service's asyncpg pool (:class:`shared.db_async.AsyncReads`,
  opened by the app's lifespan and shared with its other hot paths), SQL
  compiled once from the same statements :mod:`.store` uses, so the schema
  has one definition; asyncpg prepares and caches them.
* Anything else (SQLite in development and tests): the synchronous engine
  in a worker thread, as before; SQLite does not gain from asyncio.

Rows come back as the same tuples :mod:`.store` builds its objects from.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy.sql import ClauseElement
from starlette.concurrency import run_in_threadpool

from shared.db import Database
from shared.db_async import AsyncReads, Coalescer, asyncpg_sql
from shared.oauth.provider.store import TOKEN_INSERT_COLUMNS, statements
from shared.oauth.provider.tables import ProviderTables

__all__ = ["AsyncProviderStore", "AsyncpgStore", "ThreadedStore"]

T = TypeVar("T")
R = TypeVar("R")


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class AsyncProviderStore(Protocol):
    async def client_row(self, client_id: str) -> tuple | None: ...

    async def token_row(self, kind: str, token_hash: str) -> tuple | None: ...

    async def insert_token(self, values: dict[str, Any]) -> None: ...

    async def nonce_seen(self, client_id: str, nonce: str) -> bool: ...

    async def insert_code(self, values: dict[str, Any]) -> None: ...

    async def code_row(self, code_hash: str, client_id: str) -> tuple | None: ...

    async def claim_code_and_insert(self, code_id: int, now: dt.datetime, tokens: list[dict[str, Any]]) -> bool:
        """Mark the code used and write the tokens it bought, in one
        transaction; False, with nothing written, if the code was claimed
        first (a concurrent redemption won: the general path then answers
        the replay)."""


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

    async def nonce_seen(self, client_id: str, nonce: str) -> bool:
        return await run_in_threadpool(self._one, self.q.nonce_seen, {"b_client_id": client_id, "b_nonce": nonce}) is not None

    async def insert_token(self, values: dict[str, Any]) -> None:
        def insert() -> None:
            with self.db.engine.begin() as conn:
                conn.execute(self.q.insert_token, values)

        await run_in_threadpool(insert)

    async def insert_code(self, values: dict[str, Any]) -> None:
        def insert() -> None:
            with self.db.engine.begin() as conn:
                conn.execute(self.q.insert_code, values)

        await run_in_threadpool(insert)

    async def code_row(self, code_hash: str, client_id: str) -> tuple | None:
        return await run_in_threadpool(self._one, self.q.code_by_hash, {"b_hash": code_hash, "b_client_id": client_id})

    async def claim_code_and_insert(self, code_id: int, now: dt.datetime, tokens: list[dict[str, Any]]) -> bool:
        def claim() -> bool:
            with self.db.engine.begin() as conn:
                if not conn.execute(self.q.claim_code, {"b_id": code_id, "b_now": now}).rowcount:
                    return False
                for values in tokens:
                    conn.execute(self.q.insert_token, values)
                return True

        return await run_in_threadpool(claim)


class AsyncpgStore:
    """asyncpg connections, SQL compiled from :mod:`.store`'s statements.

    New token rows are written in batches (:class:`Coalescer`): whatever
    requests arrive while a write is in flight go together in the next one,
    one transaction and one commit for all of them, and each request answers
    only once its row is committed; one commit per token would bound the rate
    at connections ÷ flush time. Token lookups are batched the same way (one
    ``= ANY($1)`` query), which halves their per-request cost under load.
    """

    def __init__(self, reads: AsyncReads, tables: ProviderTables, *, max_batch: int = 256) -> None:
        q = statements(tables)
        self._client_sql = asyncpg_sql(q.client_by_id)
        self._nonce_seen = q.nonce_seen
        self._insert_code = q.insert_code
        self._code_sql, self._code_names = asyncpg_sql(q.code_by_hash)
        self._claim_sql, self._claim_names = asyncpg_sql(q.claim_code_inserting_tokens())
        self._tokens_sql = {kind: asyncpg_sql(q.tokens_by_hashes(kind))[0] for kind in ("access", "refresh")}
        self._insert_sql = asyncpg_sql(q.insert_tokens())[0]
        json_columns = set(q.json_token_columns())
        self._insert_json = [name in json_columns for name in TOKEN_INSERT_COLUMNS]
        self._reads = reads
        # One batch in flight per kind: under load the batches grow instead of
        # the round trips multiplying (measured: more in flight cost CPU, not time).
        per_kind = 1
        self._writes = Coalescer(self._write_batch, max_batch=max_batch, concurrency=per_kind)
        self._lookups = {
            kind: Coalescer(functools.partial(self._read_batch, kind), max_batch=max_batch, concurrency=per_kind)
            for kind in ("access", "refresh")
        }

    @property
    def _pool(self) -> Any:
        return self._reads.pool

    async def client_row(self, client_id: str) -> tuple | None:
        row = await self._pool.fetchrow(self._client_sql[0], client_id)
        return None if row is None else tuple(row)

    async def token_row(self, kind: str, token_hash: str) -> tuple | None:
        return await self._lookups[kind].submit(token_hash)

    async def nonce_seen(self, client_id: str, nonce: str) -> bool:
        return bool(await self._reads.fetch(self._nonce_seen, {"b_client_id": client_id, "b_nonce": nonce}))

    async def insert_code(self, values: dict[str, Any]) -> None:
        # Committed, so visible to the token endpoint on any connection,
        # before the browser is sent on with the code; not waited on to reach
        # the disk (0.5 ms of each login's resume here). A code lost with the
        # last moments before a database crash is refused at the token
        # endpoint like an expired one, and its user logs in once more; its
        # redemption (the claim and the tokens) is flushed.
        await self._reads.write(self._insert_code, values, durable=False)

    async def code_row(self, code_hash: str, client_id: str) -> tuple | None:
        values = {"b_hash": code_hash, "b_client_id": client_id}
        row = await self._pool.fetchrow(self._code_sql, *(values[name] for name in self._code_names))
        return None if row is None else tuple(row)

    async def claim_code_and_insert(self, code_id: int, now: dt.datetime, tokens: list[dict[str, Any]]) -> bool:
        # One statement (claim_code_inserting_tokens): the conditional UPDATE
        # is the single-use guarantee, as on the general path
        # (ProviderStore.claim_code), and the tokens are inserted only if it
        # matched; a concurrent redemption waits for the row lock, then
        # matches no row and inserts nothing.
        if not tokens:
            raise ValueError("a code is claimed together with the tokens it buys")
        arrays = self._token_arrays([tuple(v[name] for name in TOKEN_INSERT_COLUMNS) for v in tokens])
        values = {"b_id": code_id, "b_now": now, **{f"b_{name}": column for name, column in zip(TOKEN_INSERT_COLUMNS, arrays, strict=True)}}
        status = await self._pool.execute(self._claim_sql, *(values[name] for name in self._claim_names))
        return status == f"INSERT 0 {len(tokens)}"

    async def _read_batch(self, kind: str, hashes: list[str]) -> list[tuple | None]:
        # One query for the lookups that arrived together; the hash comes back
        # as the first column so rows find their requests.
        rows = {row[0]: tuple(row)[1:] for row in await self._pool.fetch(self._tokens_sql[kind], list(set(hashes)))}
        return [rows.get(h) for h in hashes]

    async def insert_token(self, values: dict[str, Any]) -> None:
        await self._writes.submit(tuple(values[name] for name in TOKEN_INSERT_COLUMNS))

    async def _write_batch(self, rows: list[tuple]) -> list[None]:
        # One statement for the batch (its columns as arrays), committed on
        # its own: one round trip, one commit, all rows or none.
        await self._pool.execute(self._insert_sql, *self._token_arrays(rows))
        return [None] * len(rows)

    def _token_arrays(self, rows: list[tuple]) -> list[list[Any]]:
        """Token rows as the batch insert's column arrays (JSON columns as text)."""
        columns = zip(*rows, strict=True)
        return [
            [_json_text(v) for v in column] if is_json else list(column) for column, is_json in zip(columns, self._insert_json, strict=True)
        ]
