"""``manage worker``'s rounds: the purge runs at the first and then once per interval."""

from __future__ import annotations

from shared.clock import FrozenClock
from shared.worker import Worker


def test_the_worker_purges_at_its_first_round_and_then_once_per_interval() -> None:
    clock, purges = FrozenClock(), []
    worker = Worker(outbox=None, purge=lambda: purges.append(clock.now()) or 0, clock=clock, purge_every=3600)
    worker.step()
    clock.advance(3599)
    worker.step()
    assert len(purges) == 1
    clock.advance(1)
    worker.step()
    assert len(purges) == 2
