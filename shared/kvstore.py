"""Short-lived shared state: sessions, rate-limit counters, one-time states.

DESIGN.md: state several replicas need lives in the database or, when
``REDIS_URL`` is set, in Redis, never only in one process's memory. Both
stores offer the same five operations; values are JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Protocol

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.clock import Clock, as_utc
from shared.db import Database

__all__ = ["KeyValueStore", "SqlKeyValueStore", "RedisKeyValueStore", "define_kv_table", "make_kv_store"]


class KeyValueStore(Protocol):
    def get(self, key: str) -> Any | None: ...

    def set(self, key: str, value: Any, ttl: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def pop(self, key: str) -> Any | None:
        """Atomically read and delete: a value can be taken only once."""

    def incr(self, key: str, ttl: int) -> int:
        """Add one to a counter that expires ``ttl`` seconds after it began."""

    def count(self, key: str) -> int:
        """The counter's current value, 0 when absent or expired."""


def define_kv_table(metadata: MetaData) -> Table:
    return Table(
        "kv_entry",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("value", Text, nullable=False),
        Column("counter", Integer, nullable=False, default=0),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )




class SqlKeyValueStore:
    def __init__(self, db: Database, table: Table, clock: Clock) -> None:
        self._db, self._t, self._clock = db, table, clock

    def _expiry(self, ttl: int) -> dt.datetime:
        return self._clock.now() + dt.timedelta(seconds=ttl)

    def get(self, key: str) -> Any | None:
        with self._db.transaction() as s:
            row = s.execute(select(self._t.c.value, self._t.c.expires_at).where(self._t.c.key == key)).first()
        if row is None or as_utc(row.expires_at) <= self._clock.now():
            return None
        return json.loads(row.value)

    def set(self, key: str, value: Any, ttl: int) -> None:
        data = json.dumps(value, ensure_ascii=False)
        with self._db.transaction() as s:
            done = s.execute(
                update(self._t).where(self._t.c.key == key).values(value=data, expires_at=self._expiry(ttl))
            ).rowcount
            if not done:
                s.execute(insert(self._t).values(key=key, value=data, counter=0, expires_at=self._expiry(ttl)))

    def delete(self, key: str) -> None:
        with self._db.transaction() as s:
            s.execute(delete(self._t).where(self._t.c.key == key))

    def pop(self, key: str) -> Any | None:
        with self._db.transaction() as s:
            row = s.execute(
                delete(self._t).where(self._t.c.key == key).returning(self._t.c.value, self._t.c.expires_at)
            ).first()
        if row is None or as_utc(row.expires_at) <= self._clock.now():
            return None
        return json.loads(row.value)

    def incr(self, key: str, ttl: int) -> int:
        now = self._clock.now()
        t = self._t
        for _ in range(5):
            try:
                with self._db.transaction() as s:
                    row = s.execute(
                        update(t).where(t.c.key == key, t.c.expires_at > now).values(counter=t.c.counter + 1).returning(t.c.counter)
                    ).first()
                    if row is not None:
                        return int(row.counter)
                    # Expired: restart the window in place, only if still expired
                    # (a concurrent first increment may have just restarted it).
                    row = s.execute(
                        update(t)
                        .where(t.c.key == key, t.c.expires_at <= now)
                        .values(counter=1, value="null", expires_at=self._expiry(ttl))
                        .returning(t.c.counter)
                    ).first()
                    if row is not None:
                        return 1
                    s.execute(insert(t).values(key=key, value="null", counter=1, expires_at=self._expiry(ttl)))
                    return 1
            except IntegrityError:
                # Another first increment inserted the row; count again on top of it.
                continue
        raise RuntimeError("could not increment counter")

    def count(self, key: str) -> int:
        with self._db.transaction() as s:
            row = s.execute(select(self._t.c.counter, self._t.c.expires_at).where(self._t.c.key == key)).first()
        if row is None or as_utc(row.expires_at) <= self._clock.now():
            return 0
        return int(row.counter)

    def purge_expired(self) -> int:
        with self._db.transaction() as s:
            return s.execute(delete(self._t).where(self._t.c.expires_at <= self._clock.now())).rowcount


class RedisKeyValueStore:
    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self._r = redis.Redis.from_url(url)
        self._ns = namespace

    def ping(self) -> None:
        """Raises when Redis cannot be reached (``/readyz``)."""
        self._r.ping()

    def _k(self, key: str) -> str:
        return f"{self._ns}:{key}"

    def get(self, key: str) -> Any | None:
        raw = self._r.get(self._k(key))
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, ttl: int) -> None:
        self._r.set(self._k(key), json.dumps(value, ensure_ascii=False), ex=ttl)

    def delete(self, key: str) -> None:
        self._r.delete(self._k(key))

    def pop(self, key: str) -> Any | None:
        raw = self._r.getdel(self._k(key))
        return None if raw is None else json.loads(raw)

    def incr(self, key: str, ttl: int) -> int:
        pipe = self._r.pipeline()
        pipe.incr(self._k(key))
        pipe.expire(self._k(key), ttl, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def count(self, key: str) -> int:
        raw = self._r.get(self._k(key))
        return int(raw) if raw is not None else 0


def make_kv_store(*, redis_url: str | None, namespace: str, db: Database, table: Table, clock: Clock) -> KeyValueStore:
    if redis_url:
        return RedisKeyValueStore(redis_url, namespace)
    return SqlKeyValueStore(db, table, clock)
