"""The key-value stores (sessions, counters, one-time states) and the
limiter built on them, with a frozen clock.

Runs on a temporary SQLite file, and also on PostgreSQL when
``TEST_DATABASE_URL`` is set (in the gdzwfw_idp test database, whose
migrations create the same ``kv_entry`` table) and on Redis when
``TEST_REDIS_URL`` is set: expiry follows the injected clock on every store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.clock import FrozenClock
from shared.db import Database, new_metadata
from shared.kvstore import KeyValueStore, RedisKeyValueStore, SqlKeyValueStore, define_kv_table
from shared.ratelimit import Limiter
from tests.oidc_helpers import run
from tests.redis_run import REDIS_KEY_PREFIX, TEST_REDIS_URL

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else []) + (["redis"] if TEST_REDIS_URL else [])


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def open_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> tuple[KeyValueStore, Callable[[], None]]:
    """The store and what closes it."""
    if backend == "redis":  # its keys are emptied before each test (tests/conftest.py)
        return RedisKeyValueStore(TEST_REDIS_URL, "kvtest", clock, prefix=REDIS_KEY_PREFIX), lambda: None
    metadata = new_metadata()
    table = define_kv_table(metadata)
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'kv.db'}")
        metadata.create_all(db.engine)
    else:
        fresh_database: Callable[[str], str] = request.getfixturevalue("fresh_database")
        db = Database(fresh_database("gdzwfw_idp"))
    return SqlKeyValueStore(db, table, clock), db.dispose


@pytest.fixture(params=BACKENDS)
def kv(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[KeyValueStore]:
    store, close = open_store(request.param, request, tmp_path, clock)
    yield store
    close()


# -- get / set / delete ------------------------------------------------------------
def test_set_then_get_returns_the_json_value(kv: KeyValueStore) -> None:
    kv.set("k", {"a": [1, 2], "名": "广州"}, ttl=60)
    assert kv.get("k") == {"a": [1, 2], "名": "广州"}
    assert kv.get("other") is None


def test_aget_reads_what_get_reads_in_the_serving_loop_and_outside_it(kv: KeyValueStore, clock: FrozenClock) -> None:
    """The refund API's cached introspection is read with ``aget`` on the
    event loop (asyncpg on PostgreSQL, redis.asyncio on Redis); outside the
    loop that opened the connections it falls back to a thread."""
    kv.set("k", {"active": True, "名": "广州"}, ttl=60)
    resources = [kv.reads, kv] if isinstance(kv, SqlKeyValueStore) else [kv]

    async def in_serving_loop() -> list:
        for resource in resources:
            await resource.open()
        try:
            seen = [await kv.aget("k"), await kv.aget("other")]
            clock.advance(60)
            return [*seen, await kv.aget("k")]
        finally:
            for resource in reversed(resources):
                await resource.close()

    # A loop of its own in another thread (the browser tests keep one running on this one).
    assert run(in_serving_loop) == [{"active": True, "名": "广州"}, None, None]
    kv.set("k", "again", ttl=60)
    assert run(lambda: kv.aget("k")) == "again"  # a loop that opened nothing


def test_aset_and_adelete_write_what_set_and_delete_write_in_the_serving_loop_and_outside_it(kv: KeyValueStore, clock: FrozenClock) -> None:
    """Sessions are saved and retired with ``aset``/``adelete`` on the event
    loop (asyncpg on PostgreSQL, with the unflushed pool for ``aset``;
    redis.asyncio on Redis); off that loop they take a thread. Either way the
    synchronous reads see the same entries, with the same expiry."""
    resources = [kv.reads, kv] if isinstance(kv, SqlKeyValueStore) else [kv]

    async def in_serving_loop() -> None:
        for resource in resources:
            await resource.open()
        try:
            await kv.aset("k", {"会话": ["广州", 1]}, ttl=60)
            await kv.aset("gone", "x", ttl=60)
            await kv.aset("kept", "y", ttl=60)
            await kv.aset("kept", "z", ttl=120)  # overwrites, with the new expiry
            await kv.adelete("gone")
            await kv.adelete("also-gone", durable=False)  # absent: no error
        finally:
            for resource in reversed(resources):
                await resource.close()

    kv.set("also-gone", "w", ttl=60)
    run(in_serving_loop)
    assert [kv.get("k"), kv.get("gone"), kv.get("kept"), kv.get("also-gone")] == [{"会话": ["广州", 1]}, None, "z", None]
    clock.advance(60)
    assert [kv.get("k"), kv.get("kept")] == [None, "z"]

    async def outside() -> None:  # a loop that opened nothing
        await kv.aset("k", "again", ttl=60)
        await kv.adelete("kept", durable=False)

    run(outside)
    assert [kv.get("k"), kv.get("kept")] == ["again", None]


def test_set_overwrites_and_restarts_the_expiry(kv: KeyValueStore, clock: FrozenClock) -> None:
    kv.set("k", 1, ttl=60)
    clock.advance(50)
    kv.set("k", 2, ttl=60)
    clock.advance(50)
    assert kv.get("k") == 2


def test_a_value_expires_after_its_ttl(kv: KeyValueStore, clock: FrozenClock) -> None:
    kv.set("k", "v", ttl=60)
    clock.advance(59)
    assert kv.get("k") == "v"
    clock.advance(1)
    assert kv.get("k") is None


def test_delete_removes_a_value(kv: KeyValueStore) -> None:
    kv.set("k", "v", ttl=60)
    kv.delete("k")
    assert kv.get("k") is None
    kv.delete("never-set")  # no error


def test_purge_expired_removes_only_expired_rows(kv: KeyValueStore, clock: FrozenClock) -> None:
    if not isinstance(kv, SqlKeyValueStore):
        pytest.skip("Redis removes expired entries itself")
    kv.set("short", 1, ttl=10)
    kv.set("long", 2, ttl=100)
    clock.advance(10)
    assert kv.purge_expired() == 1
    assert kv.get("long") == 2


# -- pop: single use ------------------------------------------------------------------
def test_pop_returns_the_value_once(kv: KeyValueStore) -> None:
    kv.set("state", {"nonce": "n"}, ttl=60)
    assert kv.pop("state") == {"nonce": "n"}
    assert kv.pop("state") is None
    assert kv.get("state") is None


def test_pop_of_an_expired_value_is_none(kv: KeyValueStore, clock: FrozenClock) -> None:
    kv.set("state", "v", ttl=5)
    clock.advance(5)
    assert kv.pop("state") is None


def test_pop_at_once_from_many_threads_hands_the_value_to_exactly_one(kv: KeyValueStore) -> None:
    kv.set("one-time", "secret", ttl=60)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: kv.pop("one-time"), range(8)))
    assert results.count("secret") == 1
    assert results.count(None) == 7


def test_apop_hands_the_value_to_one_of_many_at_once_in_the_serving_loop_and_outside_it(kv: KeyValueStore, clock: FrozenClock) -> None:
    """A parked authorization request is taken with ``apop`` on the event
    loop (asyncpg's DELETE ... RETURNING on PostgreSQL, a MULTI on
    redis.asyncio); off that loop it takes a thread."""
    resources = [kv.reads, kv] if isinstance(kv, SqlKeyValueStore) else [kv]

    async def in_serving_loop() -> list:
        for resource in resources:
            await resource.open()
        try:
            taken = await asyncio.gather(*(kv.apop("one-time") for _ in range(8)))
            expired = await kv.apop("expired")
            return [*taken, expired]
        finally:
            for resource in reversed(resources):
                await resource.close()

    kv.set("one-time", {"请求": "广州"}, ttl=60)
    kv.set("expired", "old", ttl=5)
    clock.advance(5)
    results = run(in_serving_loop)
    assert results.count({"请求": "广州"}) == 1 and results.count(None) == 8
    assert kv.get("one-time") is None
    kv.set("again", "x", ttl=60)
    assert run(lambda: kv.apop("again")) == "x"  # a loop that opened nothing
    assert kv.get("again") is None


# -- counters -------------------------------------------------------------------------------
def test_incr_counts_up_and_count_reads_it(kv: KeyValueStore) -> None:
    assert kv.count("c") == 0
    assert [kv.incr("c", ttl=60) for _ in range(3)] == [1, 2, 3]
    assert kv.count("c") == 3


def test_a_counter_window_starts_at_the_first_increment(kv: KeyValueStore, clock: FrozenClock) -> None:
    kv.incr("c", ttl=60)
    clock.advance(59)
    assert kv.incr("c", ttl=60) == 2  # same window: later hits do not extend it
    clock.advance(1)
    assert kv.count("c") == 0
    assert kv.incr("c", ttl=60) == 1  # a new window


def test_concurrent_increments_on_a_live_counter_are_all_counted(kv: KeyValueStore) -> None:
    kv.incr("c", ttl=60)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: kv.incr("c", ttl=60), range(16)))
    assert sorted(results) == list(range(2, 18))
    assert kv.count("c") == 17


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL"),
        ),
        pytest.param("redis", marks=pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL")),
    ],
)
def test_concurrent_first_increments_are_all_counted(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> None:
    """Parallel wrong passwords against a fresh lockout counter must all count."""
    kv, close = open_store(backend, request, tmp_path, clock)
    workers = 8
    try:
        for attempt in range(20):
            start = threading.Barrier(workers)

            def hit(_: int, key: str = f"c{attempt}", start: threading.Barrier = start) -> int:
                start.wait()
                return kv.incr(key, ttl=60)

            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                results = sorted(pool.map(hit, range(workers)))
            assert results == list(range(1, workers + 1)), (attempt, results)
    finally:
        close()


# -- limiter ----------------------------------------------------------------------------------
def test_counts_reads_several_counters_as_count_reads_each(kv: KeyValueStore, clock: FrozenClock) -> None:
    """A login reads its address's and its account's failures together."""
    kv.incr("a", ttl=60)
    kv.incr("a", ttl=60)
    kv.incr("b", ttl=10)
    kv.set("plain", "v", ttl=60)
    keys = ["a", "b", "missing", "a"]
    assert kv.counts(keys) == [kv.count(k) for k in keys] == [2, 1, 0, 2]
    clock.advance(10)
    assert kv.counts(keys) == [2, 0, 0, 2]


def test_acounts_reads_what_counts_reads_in_the_serving_loop_and_outside_it(kv: KeyValueStore, clock: FrozenClock) -> None:
    """A password login reads its counters with ``acounts`` on the event loop
    (asyncpg on PostgreSQL, redis.asyncio on Redis), beside the account."""
    kv.incr("a", ttl=60)
    kv.incr("a", ttl=60)
    kv.incr("b", ttl=10)
    kv.set("plain", "v", ttl=60)
    keys = ["a", "b", "missing", "a"]
    resources = [kv.reads, kv] if isinstance(kv, SqlKeyValueStore) else [kv]

    async def in_serving_loop() -> list[list[int]]:
        for resource in resources:
            await resource.open()
        try:
            seen = [await kv.acounts(keys)]
            clock.advance(10)  # b's window is over
            return [*seen, await kv.acounts(keys)]
        finally:
            for resource in reversed(resources):
                await resource.close()

    assert run(in_serving_loop) == [[2, 1, 0, 2], [2, 0, 0, 2]]
    kv.incr("b", ttl=10)
    assert run(lambda: kv.acounts(keys)) == kv.counts(keys) == [2, 1, 0, 2]  # a loop that opened nothing


def test_limiter_blocks_after_the_limit_and_reports_what_is_left(kv: KeyValueStore) -> None:
    limiter = Limiter(kv, "login", limit=3, window_seconds=300)
    assert not limiter.is_blocked("alice")
    assert [limiter.hit("alice") for _ in range(3)] == [2, 1, 0]
    assert limiter.is_blocked("alice")
    assert limiter.hit("alice") == 0  # never negative
    assert not limiter.is_blocked("bob")


def test_limiter_unblocks_after_the_window(kv: KeyValueStore, clock: FrozenClock) -> None:
    limiter = Limiter(kv, "login", limit=2, window_seconds=300)
    limiter.hit("alice")
    limiter.hit("alice")
    clock.advance(299)
    assert limiter.is_blocked("alice")
    clock.advance(1)
    assert not limiter.is_blocked("alice")
    assert limiter.hit("alice") == 1


def test_limiter_reset_clears_the_count(kv: KeyValueStore) -> None:
    limiter = Limiter(kv, "login", limit=2, window_seconds=300)
    limiter.hit("alice")
    limiter.hit("alice")
    limiter.reset("alice")
    assert not limiter.is_blocked("alice")
    assert limiter.hit("alice") == 1


def test_limiters_with_different_names_count_separately(kv: KeyValueStore) -> None:
    per_account = Limiter(kv, "login-account", limit=1, window_seconds=60)
    per_address = Limiter(kv, "login-address", limit=1, window_seconds=60)
    per_account.hit("127.0.0.1")
    assert per_account.is_blocked("127.0.0.1")
    assert not per_address.is_blocked("127.0.0.1")


def test_a_limiter_counts_a_subject_longer_than_the_store_s_key(kv: KeyValueStore) -> None:
    # What was typed as a login name may be 5000 characters (the route fuzzer
    # found it at gdzwfw_idp's staff login: a 500 on PostgreSQL's varchar(200)).
    limiter = Limiter(kv, "staff-login", limit=2, window_seconds=300)
    long_one, other = "x" * 5000, "x" * 4999 + "y"
    assert [limiter.hit(long_one) for _ in range(2)] == [1, 0]
    assert limiter.is_blocked(long_one) and not limiter.is_blocked(other)
    limiter.reset(long_one)
    assert not limiter.is_blocked(long_one)
