"""Back-channel logout notices through an outbox (at-least-once delivery).

A logout writes one row per client to notify in its own transaction
(:meth:`LogoutOutbox.enqueue`), so a notice exists exactly when the logout
stands. Right after the commit the provider tries them once
(:meth:`LogoutOutbox.deliver` with their ids: logouts stay instant when the
client is up); what fails stays in the table, and ``manage worker`` retries
it with exponential backoff until it is delivered or older than
``max_age`` (then dropped, with a log line). A client may receive a notice
twice (a delivery whose answer was lost): receivers are idempotent, ending a
``sid`` that is already ended changes nothing (:mod:`shared.oauth.backchannel`).

The logout token is signed at each attempt, not stored: it lives two minutes
(Back-Channel Logout 1.0 §2.4, ``exp``) and receivers refuse an old ``iat``,
while a retry may come hours later.

Several processes deliver (every replica right after its logouts, any
number of workers): a process *claims* rows before sending, by setting
``claimed_until`` (a lease) in a short transaction, and others skip claimed
rows until the lease ends. On PostgreSQL the claiming ``SELECT … FOR UPDATE
SKIP LOCKED`` passes over rows another process is claiming at that moment
instead of waiting for it; on SQLite the claim transaction takes the write
lock up front (BEGIN IMMEDIATE, :mod:`shared.db`), which serialises claims.
The lease outlasts a batch's sending (``batch`` × ``timeout`` < ``lease``),
so no row is sent by two processes at the same moment.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.clock import Clock, as_utc
from shared.db import Database
from shared.metrics import LOGOUT_DELIVERIES, LOGOUT_GIVEN_UP

__all__ = ["LogoutOutbox", "OutboxNotice", "OutboxDepth"]

log = logging.getLogger("oauth.backchannel.outbox")


@dataclass(frozen=True)
class OutboxNotice:
    id: int
    client_id: str
    uri: str
    subject: str | None
    sid: str
    created_at: dt.datetime
    attempts: int


# Answers that say "try later" (RFC 9110 §15.5.9, RFC 6585 §4); any other 4xx
# is the client refusing this notice, and sending it again changes nothing.
_RETRYABLE_4XX = frozenset({408, 425, 429})


class LogoutOutbox:
    def __init__(
        self,
        *,
        db: Database,
        table: Table,
        clock: Clock,
        sign: Callable[[OutboxNotice], str],
        transport: httpx.BaseTransport | None = None,
        timeout: float = 3.0,
        max_age: float = 24 * 3600,
        first_delay: float = 10.0,
        max_delay: float = 900.0,
        lease: float = 60.0,
        batch: int = 10,
    ) -> None:
        """``sign``: the logout token for a notice (the provider's current key).
        ``transport``: httpx's (tests put a fake one here)."""
        self.db, self.table, self.clock, self.sign = db, table, clock, sign
        self.transport = transport
        self.timeout, self.max_age, self.first_delay, self.max_delay = timeout, max_age, first_delay, max_delay
        self.lease, self.batch = lease, batch

    def enqueue(self, session: Session, *, client_id: str, uri: str, subject: str | None, sid: str) -> int:
        """A notice to send, in the caller's (the logout's) transaction; its id."""
        now = self.clock.now()
        values = {
            "client_id": client_id,
            "uri": uri,
            "subject": subject,
            "sid": sid,
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        }
        return session.execute(insert(self.table).values(**values).returning(self.table.c.id)).scalar_one()

    def deliver(self, ids: list[int] | None = None) -> int:
        """Send the notices due now (up to ``batch``), or exactly ``ids`` (due
        or not: the attempt right after a logout). The number delivered."""
        if ids is not None and not ids:
            return 0
        notices = self._claim(ids)
        if not notices:
            return 0
        delivered = 0
        with httpx.Client(transport=self.transport, timeout=self.timeout) as client:
            for notice in notices:
                delivered += self._send(client, notice)
        return delivered

    # -- one attempt ---------------------------------------------------------
    def _claim(self, ids: list[int] | None) -> list[OutboxNotice]:
        t = self.table
        now = self.clock.now()
        query = select(t.c.id, t.c.client_id, t.c.uri, t.c.subject, t.c.sid, t.c.created_at, t.c.attempts).where(
            or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)
        )
        if ids is None:
            query = query.where(t.c.next_attempt_at <= now).order_by(t.c.next_attempt_at, t.c.id).limit(self.batch)
        else:
            query = query.where(t.c.id.in_(ids))
        with self.db.transaction() as s:
            rows = s.execute(query.with_for_update(skip_locked=True)).all()
            if rows:
                lease_end = now + dt.timedelta(seconds=self.lease)
                s.execute(update(t).where(t.c.id.in_([row.id for row in rows])).values(claimed_until=lease_end))
        return [OutboxNotice(**{**row._asdict(), "created_at": as_utc(row.created_at)}) for row in rows]

    def _send(self, client: httpx.Client, notice: OutboxNotice) -> int:
        attempt = "first" if notice.attempts == 0 else "retry"
        fields = {"uri": notice.uri, "client_id": notice.client_id, "attempt": notice.attempts + 1}
        try:
            response = client.post(notice.uri, data={"logout_token": self.sign(notice)})
            status: int | None = response.status_code
            error = None if status < 400 else f"HTTP {status}"
        except httpx.HTTPError as exc:
            status, error = None, type(exc).__name__
        if error is None:
            LOGOUT_DELIVERIES.labels(attempt, "delivered").inc()
            log.info("back-channel logout delivered", extra={"fields": fields})
            self._finish(notice.id)
            return 1
        if status is not None and 400 <= status < 500 and status not in _RETRYABLE_4XX:
            LOGOUT_DELIVERIES.labels(attempt, "refused").inc()
            LOGOUT_GIVEN_UP.labels("refused").inc()
            log.warning("back-channel logout refused by the client: not retried", extra={"fields": {**fields, "status": status}})
            self._finish(notice.id)
            return 0
        LOGOUT_DELIVERIES.labels(attempt, "failed").inc()
        now = self.clock.now()
        if (now - notice.created_at).total_seconds() >= self.max_age:
            LOGOUT_GIVEN_UP.labels("too_old").inc()
            log.error("back-channel logout given up: client unreachable too long", extra={"fields": {**fields, "error": error}})
            self._finish(notice.id)
            return 0
        delay = min(self.max_delay, self.first_delay * 2**notice.attempts)
        log.warning("back-channel logout failed: will retry", extra={"fields": {**fields, "error": error, "retry_in_s": delay}})
        with self.db.transaction() as s:
            s.execute(
                update(self.table)
                .where(self.table.c.id == notice.id)
                .values(attempts=notice.attempts + 1, next_attempt_at=now + dt.timedelta(seconds=delay), claimed_until=None)
            )
        return 0

    def _finish(self, notice_id: int) -> None:
        with self.db.transaction() as s:
            s.execute(delete(self.table).where(self.table.c.id == notice_id))


class OutboxDepth(Collector):
    """``backchannel_logout_outbox_depth``: notices not yet delivered, counted when scraped."""

    def __init__(self, db: Database, table: Table) -> None:
        self.db, self.table = db, table

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.db.transaction() as s:
                depth = s.execute(select(func.count()).select_from(self.table)).scalar_one()
        except SQLAlchemyError:
            # The other families still matter when the database is down (/readyz reports it).
            log.warning("outbox depth unreadable", exc_info=True)
            return
        yield GaugeMetricFamily("backchannel_logout_outbox_depth", "Back-channel logout notices not yet delivered.", value=depth)
