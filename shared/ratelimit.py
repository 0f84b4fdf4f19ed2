"""Counting failures and refusing further attempts for a while.

Used for login lockout (per account and per client address) and, later, SMS
sending. Counters live in the shared key-value store, so all replicas agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from shared.kvstore import KeyValueStore

__all__ = ["Limiter", "counted", "acounted"]

# A subject is often what was typed (a login name): past this length it is
# counted under its digest, so every key fits the store's 200-character key.
_LONGEST_SUBJECT = 64


@dataclass
class Limiter:
    store: KeyValueStore
    name: str
    limit: int
    window_seconds: int

    def _key(self, subject: str) -> str:
        if len(subject) > _LONGEST_SUBJECT:
            subject = "sha256:" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
        return f"rl:{self.name}:{subject}"

    def count(self, subject: str) -> int:
        """Attempts counted in the current window."""
        return self.store.count(self._key(subject))

    def is_blocked(self, subject: str) -> bool:
        return self.count(subject) >= self.limit

    def hit(self, subject: str) -> int:
        """Record one attempt; returns how many remain before the block."""
        return max(self.limit - self.store.incr(self._key(subject), self.window_seconds), 0)

    def reset(self, subject: str) -> None:
        self.store.delete(self._key(subject))


def counted(checks: Sequence[tuple[Limiter, str]]) -> list[int]:
    """Each limiter's count for its subject: one read where they share a
    store (a login checks its address and its account before the hash)."""
    if _one_store(checks):
        return checks[0][0].store.counts([limiter._key(subject) for limiter, subject in checks])
    return [limiter.count(subject) for limiter, subject in checks]


async def acounted(checks: Sequence[tuple[Limiter, str]]) -> list[int]:
    """``counted`` on the event loop where the store allows it."""
    if _one_store(checks):
        return await checks[0][0].store.acounts([limiter._key(subject) for limiter, subject in checks])
    return [(await limiter.store.acounts([limiter._key(subject)]))[0] for limiter, subject in checks]


def _one_store(checks: Sequence[tuple[Limiter, str]]) -> bool:
    return len({id(limiter.store) for limiter, _ in checks}) == 1
