"""Coalesced batches on the provider's hot path: requests that arrive
together share one batch, each gets its own answer, a bad item fails alone."""

from __future__ import annotations

import asyncio

import pytest

from shared.db_async import Coalescer
from tests.oidc_helpers import run as run_in_thread


def run(coro):
    # A fresh loop on another thread: the browser tests leave one on this thread.
    return run_in_thread(lambda: coro)


def test_concurrent_submissions_share_batches_and_get_their_own_results() -> None:
    seen: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        seen.append(list(items))
        await asyncio.sleep(0.01)  # a round trip: what arrives meanwhile waits for the next batch
        return [2 * i for i in items]

    async def scenario() -> list[int]:
        batcher = Coalescer(double, max_batch=100, concurrency=1)
        return await asyncio.gather(*(batcher.submit(i) for i in range(50)))

    assert run(scenario()) == [2 * i for i in range(50)]
    assert sorted(i for batch in seen for i in batch) == list(range(50))
    assert len(seen) < 5  # not one batch per item


def test_one_alone_is_not_delayed() -> None:
    calls: list[list[str]] = []

    async def echo(items: list[str]) -> list[str]:
        calls.append(items)
        return items

    async def scenario() -> str:
        return await Coalescer(echo, max_batch=10, concurrency=2).submit("x")

    assert run(scenario()) == "x" and calls == [["x"]]


def test_a_failing_item_fails_only_its_own_request() -> None:
    async def write(items: list[int]) -> list[None]:
        await asyncio.sleep(0)
        if 13 in items:
            raise ValueError("duplicate key")
        return [None] * len(items)

    async def scenario():
        batcher = Coalescer(write, max_batch=100, concurrency=1)
        return await asyncio.gather(*(batcher.submit(i) for i in range(20)), return_exceptions=True)

    results = run(scenario())
    assert isinstance(results[13], ValueError)
    assert [r for i, r in enumerate(results) if i != 13] == [None] * 19


def test_batches_are_capped() -> None:
    sizes: list[int] = []

    async def count(items: list[int]) -> list[int]:
        sizes.append(len(items))
        await asyncio.sleep(0.001)
        return items

    async def scenario():
        batcher = Coalescer(count, max_batch=8, concurrency=1)
        await asyncio.gather(*(batcher.submit(i) for i in range(40)))

    run(scenario())
    assert max(sizes) <= 8 and sum(sizes) == 40


@pytest.mark.parametrize("concurrency", [1, 3])
def test_never_more_batches_in_flight_than_allowed(concurrency: int) -> None:
    in_flight = 0
    peak = 0

    async def slow(items: list[int]) -> list[int]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return items

    async def scenario():
        batcher = Coalescer(slow, max_batch=2, concurrency=concurrency)
        await asyncio.gather(*(batcher.submit(i) for i in range(30)))

    run(scenario())
    assert peak == concurrency
