"""Short-lived shared state: sessions, rate-limit counters, one-time states.

DESIGN.md: state several replicas need lives in the database or, when
``REDIS_URL`` is set, in Redis, never only in one process's memory. Both
stores offer the same five operations; values are JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    case,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shared.clock import Clock, as_utc
from shared.db import Database
from shared.db_async import AsyncReads, KeyedLookup, running_loop

__all__ = [
    "KeyValueStore",
    "SqlKeyValueStore",
    "RedisKeyValueStore",
    "RedisTimeouts",
    "StoreUnavailable",
    "define_kv_table",
    "make_kv_store",
]


class StoreUnavailable(RuntimeError):
    """The key-value store could not be reached in time. Pages answer 503
    with the service's error page (build_app); nothing is retried, so a
    request fails within one socket timeout instead of hanging."""


@dataclass(frozen=True)
class RedisTimeouts:
    """How long one Redis call may take (``*_REDIS_SOCKET_TIMEOUT``, ...).

    redis-py waits 5 s by default; a Redis that accepts connections but
    never answers (a hung server, a black-holing network) would then hold
    every page for seconds per call, and the request threads with it.
    Redis answers a healthy call in well under a millisecond, so half a
    second is generous; ``health_check`` pings a connection that sat idle
    that long before reusing it, so a dead one is replaced before a
    request's command is lost on it."""

    socket: float = 0.5
    connect: float = 0.5
    health_check: int = 15


class KeyValueStore(Protocol):
    def get(self, key: str) -> Any | None: ...

    async def aget(self, key: str) -> Any | None:
        """``get`` without a thread where the store allows it, for hot paths
        on the event loop (the refund API's cached introspection)."""

    async def open(self) -> None:
        """In the serving event loop (the app's lifespan): what ``aget`` needs."""

    async def close(self) -> None: ...

    def set(self, key: str, value: Any, ttl: int) -> None: ...

    async def aset(self, key: str, value: Any, ttl: int) -> None:
        """``set`` without a thread where the store allows it (sessions, saved on the event loop)."""

    def delete(self, key: str, *, durable: bool = True) -> None:
        """``durable=False`` for state whose return after a database crash
        harms nothing (an anonymous session replaced at login, a parked
        request already answered): the delete then does not wait for the
        disk flush."""

    async def adelete(self, key: str, *, durable: bool = True) -> None: ...

    def pop(self, key: str) -> Any | None:
        """Atomically read and delete: a value can be taken only once."""

    async def apop(self, key: str) -> Any | None:
        """``pop`` without a thread where the store allows it (a parked
        authorization request, taken when its login comes back). There, like
        ``delete(durable=False)``, the take is not waited on to reach the
        disk; off the serving loop it is ``pop`` in a thread."""

    def incr(self, key: str, ttl: int) -> int:
        """Add one to a counter that expires ``ttl`` seconds after it began."""

    def count(self, key: str) -> int:
        """The counter's current value, 0 when absent or expired."""

    def counts(self, keys: Sequence[str]) -> list[int]:
        """``count`` of each key, read together (one round trip)."""

    async def acounts(self, keys: Sequence[str]) -> list[int]:
        """``counts`` without a thread where the store allows it (a password
        login reads its counters on the event loop, beside the account)."""


def define_kv_table(metadata: MetaData) -> Table:
    return Table(
        "kv_entry",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("value", Text, nullable=False),
        Column("counter", Integer, nullable=False, default=0),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )


@dataclass(frozen=True)
class _KvStatements:
    """The store's statements, built once with bind parameters: building one
    per call (values, ON CONFLICT clauses) cost more CPU than running it."""

    get: Any
    set: Any
    delete: Any
    pop: Any
    incr: Any
    count: Any
    counts: Any
    # ``counts`` for asyncpg (PostgreSQL only): one array parameter instead of an expanding IN.
    counts_any: Any

    @classmethod
    def of(cls, t: Table, dialect: str) -> _KvStatements:
        # PostgreSQL's and SQLite's INSERT … ON CONFLICT are spelled alike.
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        key, value, expires_at = bindparam("key"), bindparam("value"), bindparam("expires_at")
        new = upsert(t).values(key=key, value=value, counter=0, expires_at=expires_at)
        # incr: one statement, atomic on both databases (the conflicting row is
        # locked while it is updated): the first increment inserts, a live
        # window counts on, an expired one restarts in place.
        live = t.c.expires_at > bindparam("now")
        first = upsert(t).values(key=key, value="null", counter=1, expires_at=expires_at)
        return cls(
            get=select(t.c.value, t.c.expires_at).where(t.c.key == key),
            set=new.on_conflict_do_update(
                index_elements=[t.c.key], set_={"value": new.excluded.value, "expires_at": new.excluded.expires_at}
            ),
            delete=delete(t).where(t.c.key == key),
            pop=delete(t).where(t.c.key == key).returning(t.c.value, t.c.expires_at),
            incr=first.on_conflict_do_update(
                index_elements=[t.c.key],
                set_={
                    "counter": case((live, t.c.counter + 1), else_=1),
                    "value": case((live, t.c.value), else_="null"),
                    "expires_at": case((live, t.c.expires_at), else_=first.excluded.expires_at),
                },
            ).returning(t.c.counter),
            count=select(t.c.key, t.c.counter, t.c.expires_at).where(t.c.key == key),
            counts=select(t.c.key, t.c.counter, t.c.expires_at).where(t.c.key.in_(bindparam("keys", expanding=True))),
            counts_any=select(t.c.key, t.c.counter, t.c.expires_at).where(t.c.key == any_(bindparam("keys", type_=ARRAY(String)))),
        )


class SqlKeyValueStore:
    def __init__(self, db: Database, table: Table, clock: Clock, *, reads: AsyncReads | None = None) -> None:
        self._db, self._t, self._clock = db, table, clock
        # Every operation is one statement. On PostgreSQL each is sent on its
        # own, committed by itself: a page of a login reads and writes this
        # store a dozen times, and BEGIN, COMMIT and the UPDATE-then-INSERT
        # were two thirds of those round trips (make bench-peer, PostgreSQL's
        # statement log of one login). Sessions, interactions and counters
        # are short-lived, so their writes do not wait for the disk flush:
        # PostgreSQL still flushes them within wal_writer_delay x 3, and a
        # crash in that moment loses the newest such writes (a user logs in
        # again, a counter misses a step), never a half-written one. Deletes
        # (logout, one-time states taken with ``pop``) keep the full
        # guarantee; ``apop`` (a parked request taken on the loop) does not
        # wait: were the request back after a crash, resuming it would need
        # its browser's login again and give what a new request gives.
        self._durable = db.single_statements(durable=True)
        self._unflushed = db.single_statements(durable=False)
        self._sql = _KvStatements.of(table, db.engine.dialect.name)
        self.reads = reads or AsyncReads(db, pool_size=1)
        # aget: concurrent reads share one query (the refund API reads a cached introspection per call).
        columns = (table.c.key, table.c.value, table.c.expires_at)
        self._lookup = KeyedLookup(
            self.reads,
            one=select(*columns).where(table.c.key == bindparam("key")),
            many=select(*columns).where(table.c.key == any_(bindparam("keys", type_=ARRAY(String)))),
        )

    def _expiry(self, ttl: int) -> dt.datetime:
        return self._clock.now() + dt.timedelta(seconds=ttl)

    @contextmanager
    def _statement(self, engine: Engine | None) -> Iterator[Connection | Session]:
        """Where one statement runs: ``engine``'s connection (PostgreSQL,
        autocommit), else a transaction of its own (SQLite)."""
        if engine is None:
            with self._db.transaction() as s:
                yield s
        else:
            with engine.connect() as c:
                yield c

    def get(self, key: str) -> Any | None:
        with self._statement(self._durable) as s:
            row = s.execute(self._sql.get, {"key": key}).first()
        return self._live_value(row)

    async def aget(self, key: str) -> Any | None:
        rows = await self._lookup.rows(key)
        return self._live_value(rows[0] if rows else None)

    def _live_value(self, row: tuple | None) -> Any | None:
        if row is None or as_utc(row[1]) <= self._clock.now():
            return None
        return json.loads(row[0])

    async def open(self) -> None:
        # The connections are the app's (build_app opens ``reads`` itself).
        return None

    async def close(self) -> None:
        return None

    def _set_values(self, key: str, value: Any, ttl: int) -> dict[str, Any]:
        return {"key": key, "value": json.dumps(value, ensure_ascii=False), "expires_at": self._expiry(ttl)}

    def set(self, key: str, value: Any, ttl: int) -> None:
        with self._statement(self._unflushed) as s:
            s.execute(self._sql.set, self._set_values(key, value, ttl))

    async def aset(self, key: str, value: Any, ttl: int) -> None:
        if not self.reads.on_loop:
            await run_in_threadpool(self.set, key, value, ttl)
            return
        await self.reads.write(self._sql.set, self._set_values(key, value, ttl), durable=False)

    def delete(self, key: str, *, durable: bool = True) -> None:
        with self._statement(self._durable if durable else self._unflushed) as s:
            s.execute(self._sql.delete, {"key": key})

    async def adelete(self, key: str, *, durable: bool = True) -> None:
        if not self.reads.on_loop:
            await run_in_threadpool(lambda: self.delete(key, durable=durable))
            return
        await self.reads.write(self._sql.delete, {"key": key}, durable=durable)

    def pop(self, key: str) -> Any | None:
        with self._statement(self._durable) as s:
            row = s.execute(self._sql.pop, {"key": key}).first()
        return self._live_value(row)

    async def apop(self, key: str) -> Any | None:
        if not self.reads.on_loop:
            return await run_in_threadpool(self.pop, key)
        rows = await self.reads.write_returning(self._sql.pop, {"key": key}, durable=False)
        return self._live_value(rows[0] if rows else None)

    def incr(self, key: str, ttl: int) -> int:
        with self._statement(self._unflushed) as s:
            return int(s.execute(self._sql.incr, {"key": key, "now": self._clock.now(), "expires_at": self._expiry(ttl)}).scalar_one())

    def count(self, key: str) -> int:
        with self._statement(self._durable) as s:
            row = s.execute(self._sql.count, {"key": key}).first()
        return self._live_count(row)

    def counts(self, keys: Sequence[str]) -> list[int]:
        with self._statement(self._durable) as s:
            rows = list(s.execute(self._sql.counts, {"keys": list(keys)}))
        return self._live_counts(keys, rows)

    async def acounts(self, keys: Sequence[str]) -> list[int]:
        if not self.reads.on_loop:
            return await run_in_threadpool(self.counts, keys)
        return self._live_counts(keys, await self.reads.fetch(self._sql.counts_any, {"keys": list(keys)}))

    def _live_counts(self, keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
        """Rows of (key, counter, expires_at): each key's count, 0 when absent or expired."""
        found = {row[0]: row for row in rows}
        return [self._live_count(found.get(key)) for key in keys]

    def _live_count(self, row: Sequence[Any] | None) -> int:
        if row is None or as_utc(row[2]) <= self._clock.now():
            return 0
        return int(row[1])

    def purge_expired(self) -> int:
        with self._db.transaction() as s:
            return s.execute(delete(self._t).where(self._t.c.expires_at <= self._clock.now())).rowcount


class RedisKeyValueStore:
    """The same operations on Redis, with expiry decided by the injected clock.

    Each entry is a hash: the value (``v``) or counter (``c``) and the clock's
    expiry time (``exp``). An entry counts as gone once the clock reaches
    ``exp``, exactly as in the SQL store, so a test that moves its frozen
    clock sees the same expiries on both stores. Redis's own TTL (the same
    number of seconds) still removes the entry, as an upper bound for cleanup.
    Keys are ``<prefix><namespace>:kv:<key>``: ``kv`` names this layout, apart
    from the plain strings of earlier versions.
    """

    # Counters are fixed windows: the first increment after expiry restarts
    # one. Check and increment must be one step, so a script (atomic in Redis).
    _INCR = """
    local exp = tonumber(redis.call('HGET', KEYS[1], 'exp'))
    if exp and tonumber(ARGV[1]) < exp then
        return redis.call('HINCRBY', KEYS[1], 'c', 1)
    end
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'c', 1, 'exp', ARGV[2])
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    return 1
    """

    def __init__(self, url: str, namespace: str, clock: Clock, *, prefix: str = "", timeouts: RedisTimeouts = RedisTimeouts()) -> None:
        import redis

        self._url, self._timeouts = url, timeouts
        self._r = redis.Redis.from_url(
            url,
            socket_timeout=timeouts.socket,
            socket_connect_timeout=timeouts.connect,
            health_check_interval=timeouts.health_check,
        )
        self._down = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._ns = f"{prefix}{namespace}:kv"
        self._clock = clock
        self._incr = self._r.register_script(self._INCR)
        # redis.asyncio's connections belong to the loop that opened them.
        self._async: Any = None
        self._loop: Any = None

    async def open(self) -> None:
        import redis.asyncio

        if self._async is None:
            client = redis.asyncio.Redis.from_url(
                self._url,
                socket_timeout=self._timeouts.socket,
                socket_connect_timeout=self._timeouts.connect,
                health_check_interval=self._timeouts.health_check,
            )
            self._async, self._loop = client, running_loop()

    async def close(self) -> None:
        if self._async is not None:
            client, self._async, self._loop = self._async, None, None
            await client.aclose()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except self._down as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}") from exc

    def ping(self) -> None:
        """Raises when Redis cannot be reached (``/readyz``)."""
        with self._reachable():
            self._r.ping()

    def _k(self, key: str) -> str:
        return f"{self._ns}:{key}"

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _live(self, field: bytes | None, exp: bytes | None) -> bytes | None:
        return field if field is not None and exp is not None and self._now() < float(exp) else None

    def get(self, key: str) -> Any | None:
        with self._reachable():
            raw = self._live(*self._r.hmget(self._k(key), "v", "exp"))
        return None if raw is None else json.loads(raw)

    async def aget(self, key: str) -> Any | None:
        if not self._on_loop():
            return await run_in_threadpool(self.get, key)
        with self._reachable():
            raw = self._live(*await self._async.hmget(self._k(key), "v", "exp"))
        return None if raw is None else json.loads(raw)

    def _on_loop(self) -> bool:
        return self._async is not None and running_loop() is self._loop

    def _queue_set(self, pipe: Any, key: str, value: Any, ttl: int) -> None:
        # In a MULTI: no reader sees the entry half-written.
        pipe.delete(self._k(key))
        pipe.hset(self._k(key), mapping={"v": json.dumps(value, ensure_ascii=False), "exp": self._now() + ttl})
        pipe.expire(self._k(key), ttl)

    def set(self, key: str, value: Any, ttl: int) -> None:
        pipe = self._r.pipeline()
        self._queue_set(pipe, key, value, ttl)
        with self._reachable():
            pipe.execute()

    async def aset(self, key: str, value: Any, ttl: int) -> None:
        if not self._on_loop():
            await run_in_threadpool(self.set, key, value, ttl)
            return
        pipe = self._async.pipeline()
        self._queue_set(pipe, key, value, ttl)
        with self._reachable():
            await pipe.execute()

    # Redis has no per-command durability to choose: ``durable`` changes nothing here.
    def delete(self, key: str, *, durable: bool = True) -> None:
        with self._reachable():
            self._r.delete(self._k(key))

    async def adelete(self, key: str, *, durable: bool = True) -> None:
        if not self._on_loop():
            await run_in_threadpool(self.delete, key)
            return
        with self._reachable():
            await self._async.delete(self._k(key))

    def pop(self, key: str) -> Any | None:
        pipe = self._r.pipeline()  # MULTI: read and delete in one step, so one caller wins
        self._queue_pop(pipe, key)
        with self._reachable():
            (value, exp), _ = pipe.execute()
        raw = self._live(value, exp)
        return None if raw is None else json.loads(raw)

    async def apop(self, key: str) -> Any | None:
        if not self._on_loop():
            return await run_in_threadpool(self.pop, key)
        pipe = self._async.pipeline()
        self._queue_pop(pipe, key)
        with self._reachable():
            (value, exp), _ = await pipe.execute()
        raw = self._live(value, exp)
        return None if raw is None else json.loads(raw)

    def _queue_pop(self, pipe: Any, key: str) -> None:
        pipe.hmget(self._k(key), "v", "exp")
        pipe.delete(self._k(key))

    def incr(self, key: str, ttl: int) -> int:
        now = self._now()
        with self._reachable():
            return int(self._incr(keys=[self._k(key)], args=[now, now + ttl, ttl]))

    def count(self, key: str) -> int:
        return self.counts([key])[0]

    def counts(self, keys: Sequence[str]) -> list[int]:
        pipe = self._counts_pipeline(self._r, keys)
        with self._reachable():
            return self._live_counts(pipe.execute())

    async def acounts(self, keys: Sequence[str]) -> list[int]:
        if not self._on_loop():
            return await run_in_threadpool(self.counts, keys)
        pipe = self._counts_pipeline(self._async, keys)
        with self._reachable():
            return self._live_counts(await pipe.execute())

    def _counts_pipeline(self, client: Any, keys: Sequence[str]) -> Any:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._k(key), "c", "exp")
        return pipe

    def _live_counts(self, found: Sequence[Sequence[bytes | None]]) -> list[int]:
        return [0 if (raw := self._live(*fields)) is None else int(raw) for fields in found]


def make_kv_store(
    *,
    redis_url: str | None,
    namespace: str,
    db: Database,
    table: Table,
    clock: Clock,
    redis_prefix: str = "",
    reads: AsyncReads | None = None,
    redis_timeouts: RedisTimeouts = RedisTimeouts(),
) -> KeyValueStore:
    if redis_url:
        return RedisKeyValueStore(redis_url, namespace, clock, prefix=redis_prefix, timeouts=redis_timeouts)
    return SqlKeyValueStore(db, table, clock, reads=reads)
