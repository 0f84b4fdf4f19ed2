"""One source of randomness for secrets (codes, tokens, session ids).

Injected like the clock so a test can make values predictable; production
always uses the operating system's CSPRNG through :mod:`secrets`.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from typing import Protocol

__all__ = ["TokenSource", "SystemTokenSource", "SequenceTokenSource", "hash_secret"]


class TokenSource(Protocol):
    def token(self, nbytes: int = 32) -> str:
        """A URL-safe random string carrying ``nbytes`` of entropy."""

    def digits(self, length: int) -> str:
        """A string of random decimal digits (SMS codes)."""


class SystemTokenSource:
    def token(self, nbytes: int = 32) -> str:
        return secrets.token_urlsafe(nbytes)

    def digits(self, length: int) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(length))


class SequenceTokenSource:
    """Deterministic, unique values for tests. Never use outside tests."""

    def __init__(self, prefix: str = "t") -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._prefix = prefix

    def token(self, nbytes: int = 32) -> str:
        with self._lock:
            n = next(self._counter)
        return f"{self._prefix}{n:0{max(nbytes, 8)}d}"

    def digits(self, length: int) -> str:
        with self._lock:
            n = next(self._counter)
        return f"{n % 10**length:0{length}d}"


def hash_secret(value: str) -> str:
    """SHA-256 of a high-entropy secret (token, code, session id).

    These values are random with >= 256 bits of entropy, so a fast hash is the
    right tool: lookups stay indexed and O(1), and a database leak reveals no
    usable credential. Low-entropy secrets (passwords) use argon2id instead.
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
