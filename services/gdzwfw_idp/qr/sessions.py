"""One-time sessions behind a QR code (微信扫码人脸识别, 电子营业执照).

The page that shows the QR code owns the session (an ``owner`` value kept in
the browser's server-side session); the mini-program that scans it approves
it once; the owning page learns the outcome by polling and then claims the
result once. Everything lives in the shared key-value store, never in one
process's memory, and each step is an atomic take (``pop``), so a QR code can
be approved only once and its result claimed only once, on any replica.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Literal

from shared.clock import Clock
from shared.kvstore import KeyValueStore
from shared.randomness import TokenSource

__all__ = ["OneTimeSessions", "OneTimeSession", "Approval"]

Status = Literal["pending", "approved", "used", "expired"]
Approval = Literal["approved", "used", "expired"]


@dataclass
class OneTimeSession:
    id: str
    kind: str
    expires_at: int
    data: dict[str, Any]


class OneTimeSessions:
    def __init__(self, kv: KeyValueStore, tokens: TokenSource, clock: Clock, *, ttl: int) -> None:
        self.kv, self.tokens, self.clock, self.ttl = kv, tokens, clock, ttl

    def _k(self, state: str, kind: str, sid: str) -> str:
        return f"ots:{state}:{kind}:{sid}"

    async def create(self, kind: str, *, owner: str, data: dict[str, Any] | None = None) -> OneTimeSession:
        # On the event loop (``aset``): every 法人登录 page opens on a QR code,
        # and a worker thread per page cost more than the code itself.
        sid = self.tokens.token(24)
        expires_at = self.clock.timestamp() + self.ttl
        await self.kv.aset(self._k("pending", kind, sid), {"owner": owner, "data": data or {}, "expires_at": expires_at}, self.ttl)
        return OneTimeSession(id=sid, kind=kind, expires_at=expires_at, data=data or {})

    def peek(self, kind: str, sid: str) -> OneTimeSession | None:
        """The pending session as the scanning side sees it (no owner)."""
        entry = self.kv.get(self._k("pending", kind, sid)) if sid else None
        if not entry:
            return None
        return OneTimeSession(id=sid, kind=kind, expires_at=entry["expires_at"], data=entry["data"])

    def was_used(self, kind: str, sid: str) -> bool:
        """Whether this QR code was already scanned and approved."""
        return bool(sid) and bool(self.kv.get(self._k("used", kind, sid)))

    def approve(self, kind: str, sid: str, result: dict[str, Any]) -> Approval:
        """The scanning side's one approval. ``used`` and ``expired`` refuse it."""
        entry = self.kv.pop(self._k("pending", kind, sid)) if sid else None
        if entry is None:
            return "used" if sid and self.kv.get(self._k("used", kind, sid)) else "expired"
        remaining = entry["expires_at"] - self.clock.timestamp()
        if remaining <= 0:
            return "expired"
        self.kv.set(self._k("used", kind, sid), True, self.ttl)
        self.kv.set(self._k("done", kind, sid), {"owner": entry["owner"], "result": result, "data": entry["data"]}, max(remaining, 30))
        return "approved"

    def status(self, kind: str, sid: str, *, owner: str) -> Status:
        if not sid:
            return "expired"
        done = self.kv.get(self._k("done", kind, sid))
        if done is not None:
            return "approved" if hmac.compare_digest(done["owner"], owner) else "expired"
        pending = self.kv.get(self._k("pending", kind, sid))
        if pending is not None and hmac.compare_digest(pending["owner"], owner):
            return "pending"
        return "used" if self.kv.get(self._k("used", kind, sid)) else "expired"

    def claim(self, kind: str, sid: str, *, owner: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Take an approved result once, only by the page that owns it:
        ``(result, data)`` or None."""
        if not sid:
            return None
        key = self._k("done", kind, sid)
        done = self.kv.get(key)
        if done is None or not hmac.compare_digest(done["owner"], owner):
            return None
        taken = self.kv.pop(key)
        if taken is None:
            return None
        return taken["result"], taken["data"]
