"""``python -m services.<svc>.manage worker``: the background work of a service.

It delivers the back-channel logout outbox (providers) and deletes expired
rows now and then (``purge-expired``). Any number of workers may run beside
any number of replicas: outbox rows are claimed before they are sent
(:mod:`shared.oauth.provider.logout_outbox`), and purging twice deletes
nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from shared.clock import Clock
from shared.oauth.provider.logout_outbox import LogoutOutbox

__all__ = ["Worker"]

log = logging.getLogger("worker")


class Worker:
    def __init__(self, *, outbox: LogoutOutbox | None, purge: Callable[[], int], clock: Clock, purge_every: float) -> None:
        self.outbox, self.purge, self.clock = outbox, purge, clock
        self.purge_every = dt.timedelta(seconds=purge_every)
        self._next_purge: dt.datetime | None = None  # the first step purges

    def step(self) -> int:
        """One round: the notices due now, and the purge when its time has
        come. The number of notices delivered."""
        delivered = self.outbox.deliver() if self.outbox is not None else 0
        now = self.clock.now()
        if self._next_purge is None or now >= self._next_purge:
            removed = self.purge()
            log.info("expired rows purged", extra={"fields": {"removed": removed}})
            self._next_purge = now + self.purge_every
        return delivered

    def run(self, stop: threading.Event, *, poll: float = 1.0) -> None:
        """Steps until ``stop`` is set, ``poll`` seconds apart unless a full
        batch went out (more may be waiting)."""
        log.info("worker started")
        while not stop.is_set():
            try:
                delivered = self.step()
            except Exception:
                # A database restart or fail-over: the next round tries again.
                log.exception("worker round failed")
                delivered = 0
            if self.outbox is None or delivered < self.outbox.batch:
                stop.wait(poll)
        log.info("worker stopped")
