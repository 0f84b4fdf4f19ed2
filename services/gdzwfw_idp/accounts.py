"""Account queries (keyword-only, one session passed in)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import namedtuple
from typing import Any

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.orm import Session

from services.gdzwfw_idp.models import Account, CertificateBinding, HandlerRelation, TrustLevelChange
from shared.db_async import AsyncReads
from shared.metrics import LEVEL_CHANGES, count_on_commit
from shared.trust import TrustLevel

__all__ = [
    "get_account",
    "principal_account",
    "aprincipal_account",
    "PrincipalAccount",
    "alogin_account",
    "LoginAccount",
    "find_by_login_name",
    "find_by_uscc",
    "find_by_id_number",
    "find_by_mobile",
    "set_password",
    "create_account",
    "record_level_change",
    "record_verification",
    "latest_level_changes",
    "verified_methods",
    "new_account_id",
    "add_handler",
    "remove_handler",
    "handlers_of",
    "handled_by",
    "is_handler",
    "bind_certificate",
    "has_certificate_binding",
]


def new_account_id() -> str:
    return uuid.uuid4().hex


def get_account(db: Session, *, account_id: str) -> Account | None:
    return db.get(Account, account_id)


_accounts = Account.__table__
# What a login's principal and its claims are made of (hooks.py), read on
# every authorization and every token: one Core statement, built once; the
# ORM's identity map and object loading cost twice as much CPU (profiled).
_PRINCIPAL_COLUMNS = "id account_type status trust_level login_generation org_name uscc legal_rep_name person_name id_number"
_PRINCIPAL = select(*(_accounts.c[name] for name in _PRINCIPAL_COLUMNS.split())).where(_accounts.c.id == bindparam("account_id"))


PrincipalAccount = namedtuple("PrincipalAccount", _PRINCIPAL_COLUMNS)


def principal_account(db: Session, *, account_id: str) -> Row | None:
    """The account's columns a principal needs, read-only (attribute names as on :class:`Account`)."""
    return db.execute(_PRINCIPAL, {"account_id": account_id}).first()


async def aprincipal_account(reads: AsyncReads, *, account_id: str) -> PrincipalAccount | None:
    """``principal_account`` on the event loop (the authorization endpoint's hot path)."""
    rows = await reads.fetch(_PRINCIPAL, {"account_id": account_id})
    return PrincipalAccount(*rows[0]) if rows else None


# What a password login checks (shared.password_login) and starts a login with.
_LOGIN_COLUMNS = "id password_hash status account_type login_generation"
_BY_LOGIN_NAME = select(*(_accounts.c[name] for name in _LOGIN_COLUMNS.split())).where(_accounts.c.login_name == bindparam("login_name"))


LoginAccount = namedtuple("LoginAccount", _LOGIN_COLUMNS)


async def alogin_account(reads: AsyncReads, *, login_name: str) -> LoginAccount | None:
    """The account a password login names, read on the event loop (login names are unique)."""
    rows = await reads.fetch(_BY_LOGIN_NAME, {"login_name": login_name})
    return LoginAccount(*rows[0]) if rows else None


def find_by_login_name(db: Session, *, login_name: str) -> Account | None:
    return db.execute(select(Account).where(Account.login_name == login_name)).scalar_one_or_none()


def find_by_uscc(db: Session, *, uscc: str) -> Account | None:
    return db.execute(select(Account).where(Account.uscc == uscc)).scalar_one_or_none()


def find_by_id_number(db: Session, *, id_number: str) -> Account | None:
    return db.execute(select(Account).where(Account.id_number == id_number)).scalar_one_or_none()


def find_by_mobile(db: Session, *, mobile: str) -> list[Account]:
    return list(db.execute(select(Account).where(Account.mobile == mobile).order_by(Account.created_at)).scalars())


def set_password(db: Session, *, account_id: str, password_hash: str) -> int:
    """A new password, and a new login generation: every login begun under
    an older one is over. The increment is done by the database, so of two
    changes at once each gets its own generation. Returns the new one."""
    db.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(password_hash=password_hash, login_generation=Account.login_generation + 1)
        .execution_options(synchronize_session=False)
    )
    return db.execute(select(Account.login_generation).where(Account.id == account_id)).scalar_one()


def create_account(
    db: Session, *, fields: dict[str, Any], level: TrustLevel, method: str, evidence: str, actor: str, at: dt.datetime
) -> Account:
    """A new account whose first level is written to the audit log as a
    change from nothing (so the 实名核验 page can say how it was reached)."""
    account = Account(id=new_account_id(), status="active", trust_level=level.name, verification_method=method, created_at=at, **fields)
    db.add(account)
    db.flush()
    account.trust_level = None  # type: ignore[assignment]
    record_level_change(db, account=account, to_level=level, method=method, evidence=evidence, actor=actor, at=at)
    db.flush()
    return account


def _log_level(db: Session, *, account: Account, to_level: str | None, method: str, evidence: str, actor: str, at: dt.datetime) -> None:
    """One row of the account's level history, from the level it has now."""
    db.add(
        TrustLevelChange(
            account_id=account.id,
            from_level=account.trust_level,
            to_level=to_level,
            method=method,
            evidence=evidence,
            actor=actor,
            created_at=at,
        )
    )


def record_level_change(
    db: Session, *, account: Account, to_level: TrustLevel, method: str, evidence: str, actor: str, at: dt.datetime
) -> None:
    _log_level(db, account=account, to_level=to_level.name, method=method, evidence=evidence, actor=actor, at=at)
    account.trust_level = to_level.name
    account.verification_method = method
    # Methods are the service's own names (messages module): a bounded label.
    count_on_commit(db, LEVEL_CHANGES.labels(to_level.name, method).inc)


def record_verification(
    db: Session, *, account: Account, level: TrustLevel, method: str, evidence: str, actor: str, at: dt.datetime
) -> bool:
    """A verification that succeeded. It raises the level when it reaches a
    higher one (through :func:`record_level_change`); otherwise the level and
    the current 核验方式 stay and the audit log still records the check.
    Returns whether the level rose."""
    current = TrustLevel.from_name(account.trust_level)
    if current is None or level > current:
        record_level_change(db, account=account, to_level=level, method=method, evidence=evidence, actor=actor, at=at)
        return True
    _log_level(db, account=account, to_level=account.trust_level, method=method, evidence=evidence, actor=actor, at=at)
    return False


def latest_level_changes(db: Session, *, account_id: str, limit: int = 10) -> list[TrustLevelChange]:
    return list(
        db.execute(
            select(TrustLevelChange).where(TrustLevelChange.account_id == account_id).order_by(TrustLevelChange.id.desc()).limit(limit)
        ).scalars()
    )


def verified_methods(db: Session, *, account_id: str) -> set[str]:
    """Every 核验方式 this account has ever passed (the 已核验 marks)."""
    return set(db.execute(select(TrustLevelChange.method).where(TrustLevelChange.account_id == account_id)).scalars())


# -- 经办人 ----------------------------------------------------------------------
def add_handler(db: Session, *, legal_person: Account, handler: Account, at: dt.datetime) -> HandlerRelation:
    relation = HandlerRelation(legal_person_id=legal_person.id, handler_id=handler.id, created_at=at)
    db.add(relation)
    db.flush()
    return relation


def remove_handler(db: Session, *, legal_person_id: str, handler_id: str) -> bool:
    return bool(
        db.execute(
            delete(HandlerRelation).where(HandlerRelation.legal_person_id == legal_person_id, HandlerRelation.handler_id == handler_id)
        ).rowcount
    )


def handlers_of(db: Session, *, legal_person_id: str) -> list[tuple[HandlerRelation, Account]]:
    rows = db.execute(
        select(HandlerRelation, Account)
        .join(Account, Account.id == HandlerRelation.handler_id)
        .where(HandlerRelation.legal_person_id == legal_person_id)
        .order_by(HandlerRelation.id)
    ).all()
    return [(r, a) for r, a in rows]


def handled_by(db: Session, *, handler_id: str) -> list[tuple[HandlerRelation, Account]]:
    rows = db.execute(
        select(HandlerRelation, Account)
        .join(Account, Account.id == HandlerRelation.legal_person_id)
        .where(HandlerRelation.handler_id == handler_id, Account.status == "active")
        .order_by(HandlerRelation.id)
    ).all()
    return [(r, a) for r, a in rows]


def is_handler(db: Session, *, legal_person_id: str, handler_id: str) -> bool:
    return (
        db.execute(
            select(HandlerRelation.id).where(HandlerRelation.legal_person_id == legal_person_id, HandlerRelation.handler_id == handler_id)
        ).first()
        is not None
    )


# -- certificates ------------------------------------------------------------------
def bind_certificate(db: Session, *, account: Account, kind: str, cert: Any, at: dt.datetime) -> None:
    """Remember a verified certificate (``cert`` is a VerifiedCertificate)."""
    db.add(
        CertificateBinding(
            account_id=account.id,
            kind=kind,
            fingerprint_sha256=cert.fingerprint_sha256,
            serial_hex=cert.serial_hex,
            issuer=cert.issuer[:500],
            subject=cert.subject[:500],
            not_after=cert.not_after,
            created_at=at,
        )
    )


def has_certificate_binding(db: Session, *, account_id: str, kind: str) -> bool:
    return (
        db.execute(
            select(CertificateBinding.id).where(CertificateBinding.account_id == account_id, CertificateBinding.kind == kind)
        ).first()
        is not None
    )
