"""Counting failures and refusing further attempts for a while.

Used for login lockout (per account and per client address) and, later, SMS
sending. Counters live in the shared key-value store, so all replicas agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.kvstore import KeyValueStore

__all__ = ["Limiter"]


@dataclass
class Limiter:
    store: KeyValueStore
    name: str
    limit: int
    window_seconds: int

    def _key(self, subject: str) -> str:
        return f"rl:{self.name}:{subject}"

    def is_blocked(self, subject: str) -> bool:
        return self.store.count(self._key(subject)) >= self.limit

    def hit(self, subject: str) -> int:
        """Record one attempt; returns how many remain before the block."""
        return max(self.limit - self.store.incr(self._key(subject), self.window_seconds), 0)

    def reset(self, subject: str) -> None:
        self.store.delete(self._key(subject))
