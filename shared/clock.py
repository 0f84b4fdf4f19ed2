"""One clock for the whole project, injected wherever time matters.

Every service receives a ``Clock`` through ``create_app`` so tests can freeze
or advance time without patching modules (STYLE habit 7).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol

__all__ = ["BEIJING", "Clock", "SystemClock", "FrozenClock", "as_utc"]

# The time every page shows (UTC+8, no daylight saving).
BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Timezone-aware current time (UTC)."""

    def timestamp(self) -> int:
        """Current time as integer seconds since the epoch."""


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def timestamp(self) -> int:
        return int(self.now().timestamp())


class FrozenClock:
    """A clock that only moves when told to; shared safely between threads."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Stored times are UTC; SQLite hands them back without a zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
