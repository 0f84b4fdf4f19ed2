"""Unit queries and the mapping of provincial identities to HRSS units."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.hrss_isso.models import FederatedLogin, ProvincialLink, Unit

__all__ = ["get_unit", "find_unit_for_provincial", "record_federated_login", "new_unit_id"]


def new_unit_id() -> str:
    return uuid.uuid4().hex


def get_unit(db: Session, *, unit_id: str) -> Unit | None:
    return db.get(Unit, unit_id)


def find_unit_for_provincial(db: Session, *, issuer: str, subject: str, uscc: str, now: dt.datetime) -> Unit | None:
    """The unit linked to this provincial legal person, or None.

    A link already bound to the provider's ``sub`` decides. A link prepared
    in advance (subject empty) is bound at the first login with its USCC.
    A unit with no link is not entered: first-login initialisation (or a
    handler's confirmation) creates links, never the USCC alone.
    """
    link = db.execute(
        select(ProvincialLink).where(ProvincialLink.issuer == issuer, ProvincialLink.subject == subject)
    ).scalar_one_or_none()
    if link is None:
        link = db.execute(
            select(ProvincialLink).where(
                ProvincialLink.issuer == issuer, ProvincialLink.uscc == uscc, ProvincialLink.subject.is_(None)
            )
        ).scalar_one_or_none()
        if link is None:
            return None
        link.subject = subject
        link.linked_at = now
    unit = db.get(Unit, link.unit_id)
    if unit is None or unit.status != "active" or unit.uscc != link.uscc:
        return None
    return unit


def record_federated_login(db: Session, *, unit: Unit, issuer: str, subject: str, acr: str | None, auth_time: int, sid: str, now: dt.datetime) -> None:
    db.add(FederatedLogin(unit_id=unit.id, issuer=issuer, subject=subject, acr=acr, auth_time=auth_time, sid=sid, created_at=now))
