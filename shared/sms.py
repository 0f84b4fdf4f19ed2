"""SMS verification codes and the outbox (DESIGN.md § Stand-ins: SMS).

Codes are six digits, stored hashed, single-use, expire after
``code_ttl`` seconds and allow ``max_attempts`` wrong guesses. Sending is
rate-limited per mobile number and per client address. Messages go through
a :class:`SmsGateway`: the outbox table (development: read it at
``/dev/sms``) or an HTTP gateway adapter in production.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.orm import Session

from shared.clock import Clock, as_utc
from shared.kvstore import KeyValueStore
from shared.randomness import TokenSource, hash_secret
from shared.ratelimit import Limiter

__all__ = [
    "SmsTables",
    "define_sms_tables",
    "SmsGateway",
    "OutboxGateway",
    "HttpSmsGateway",
    "SmsCodes",
    "SendResult",
    "check_mobile",
    "MOBILE_MESSAGE",
    "mask_mobile",
]

log = logging.getLogger("sms")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
MOBILE_MESSAGE = "请输入正确的11位手机号码"


def check_mobile(value: str) -> str | None:
    """The normalised mainland mobile number, or None."""
    value = (value or "").strip().replace(" ", "")
    return value if _MOBILE.match(value) else None


def mask_mobile(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) == 11 else "***"


@dataclass(frozen=True)
class SmsTables:
    outbox: Table
    code: Table


def define_sms_tables(metadata: MetaData) -> SmsTables:
    outbox = Table(
        "sms_outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("mobile", String(20), nullable=False, index=True),
        Column("body", String(500), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    code = Table(
        "sms_code",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("mobile", String(20), nullable=False, index=True),
        Column("purpose", String(40), nullable=False),
        Column("code_hash", String(64), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("used_at", DateTime(timezone=True), nullable=True),
    )
    return SmsTables(outbox=outbox, code=code)


class SmsGateway(Protocol):
    def send(self, db: Session, *, mobile: str, body: str) -> None: ...


class OutboxGateway:
    """Development stand-in: messages are kept in the outbox table."""

    def __init__(self, tables: SmsTables, clock: Clock) -> None:
        self.t, self.clock = tables.outbox, clock

    def send(self, db: Session, *, mobile: str, body: str) -> None:
        db.execute(insert(self.t).values(mobile=mobile, body=body, created_at=self.clock.now()))

    def latest(self, db: Session, *, limit: int = 50) -> list[dict]:
        rows = db.execute(select(self.t).order_by(self.t.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]


class HttpSmsGateway:
    """Production adapter: POST the message as JSON to the operator's gateway."""

    def __init__(self, url: str, token: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout, transport=transport, headers={"Authorization": f"Bearer {token}"})

    def send(self, db: Session, *, mobile: str, body: str) -> None:
        response = self._client.post(self.url, json={"mobile": mobile, "content": body})
        response.raise_for_status()


@dataclass
class SendResult:
    sent: bool
    error: str | None = None
    retry_after: int = 0


_TEXT = "您的验证码为{code}，{minutes}分钟内有效。请勿泄露给他人。"


class SmsCodes:
    def __init__(
        self,
        *,
        tables: SmsTables,
        gateway: SmsGateway,
        kv: KeyValueStore,
        clock: Clock,
        tokens: TokenSource,
        sign: str = "【广东政务服务】",
        code_ttl: int = 300,
        max_attempts: int = 5,
        resend_seconds: int = 60,
        per_number_per_day: int = 10,
        per_address_per_hour: int = 30,
    ) -> None:
        self.t = tables.code
        self.gateway = gateway
        self.clock = clock
        self.tokens = tokens
        self.sign = sign
        self.code_ttl = code_ttl
        self.max_attempts = max_attempts
        self.resend = Limiter(kv, "sms-resend", 1, resend_seconds)
        self.per_number = Limiter(kv, "sms-number", per_number_per_day, 86400)
        self.per_address = Limiter(kv, "sms-address", per_address_per_hour, 3600)

    def admit(self, *, mobile: str, address: str) -> SendResult | None:
        """Count one request for a code to ``mobile`` from ``address``: None
        when it may go out, else the refusal.

        It keys on the number as typed, not on an account: a recovery form
        calls it for numbers that belong to nobody too, so the cooldown's
        answer cannot tell them apart. It uses the key-value store, which on
        SQLite is the same file: call it outside any open transaction."""
        if check_mobile(mobile) is None:
            return SendResult(False, MOBILE_MESSAGE)
        if self.resend.is_blocked(mobile):
            return SendResult(False, "验证码已发送，请60秒后再重新获取", retry_after=self.resend.window_seconds)
        if self.per_number.is_blocked(mobile):
            return SendResult(False, "该手机号今日获取验证码次数已达上限，请明天再试")
        if self.per_address.is_blocked(address):
            return SendResult(False, "获取验证码过于频繁，请稍后再试")
        self.resend.hit(mobile)
        self.per_number.hit(mobile)
        self.per_address.hit(address)
        return None

    def issue(self, db: Session, *, mobile: str, purpose: str, text: str = _TEXT) -> None:
        """A new code for (mobile, purpose), sent; earlier ones stop working.
        Only after :meth:`admit` let the request through."""
        now = self.clock.now()
        db.execute(
            update(self.t).where(self.t.c.mobile == mobile, self.t.c.purpose == purpose, self.t.c.used_at.is_(None)).values(used_at=now)
        )
        code = self.tokens.digits(6)
        db.execute(
            insert(self.t).values(
                mobile=mobile,
                purpose=purpose,
                code_hash=hash_secret(f"{mobile}:{purpose}:{code}"),
                attempts=0,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self.code_ttl),
            )
        )
        self.gateway.send(db, mobile=mobile, body=self.sign + text.format(code=code, minutes=self.code_ttl // 60))
        log.info("sms code sent", extra={"fields": {"mobile": mask_mobile(mobile), "purpose": purpose}})

    def send(self, db: Session, *, mobile: str, purpose: str, address: str, text: str = _TEXT) -> SendResult:
        """:meth:`admit` then :meth:`issue`.

        Call it before any other statement in ``db``'s transaction: its rate
        limiters use the key-value store, which on SQLite is the same file and
        would otherwise wait behind this transaction's write lock."""
        refused = self.admit(mobile=mobile, address=address)
        if refused is not None:
            return refused
        self.issue(db, mobile=mobile, purpose=purpose, text=text)
        return SendResult(True)

    def verify(self, db: Session, *, mobile: str, purpose: str, code: str) -> str | None:
        """None when the code is right (and now spent), else a Chinese message."""
        now = self.clock.now()
        row = (
            db.execute(
                select(self.t)
                .where(self.t.c.mobile == mobile, self.t.c.purpose == purpose, self.t.c.used_at.is_(None))
                .order_by(self.t.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if row is None:
            return "请先获取短信验证码"
        if as_utc(row["expires_at"]) <= now:
            return "短信验证码已过期，请重新获取"
        # Take the attempt before comparing, in one conditional UPDATE: the
        # database serialises it (PostgreSQL re-checks the WHERE on the locked
        # row), so parallel guesses cannot all read "4 attempts" and all be
        # tried. The right code spends an attempt too, so five wrong then the
        # right one is still refused.
        counted = db.execute(
            update(self.t)
            .where(self.t.c.id == row["id"], self.t.c.used_at.is_(None), self.t.c.attempts < self.max_attempts)
            .values(attempts=self.t.c.attempts + 1)
        ).rowcount
        if not counted:
            return "短信验证码错误次数过多，请重新获取"
        expected = hash_secret(f"{mobile}:{purpose}:{(code or '').strip()}")
        if not hmac.compare_digest(expected, row["code_hash"]):
            return "短信验证码不正确"
        spent = db.execute(update(self.t).where(self.t.c.id == row["id"], self.t.c.used_at.is_(None)).values(used_at=now)).rowcount
        return None if spent else "短信验证码已使用，请重新获取"
