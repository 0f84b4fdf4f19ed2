"""Staff accounts of the social-insurance agencies (社保经办机构)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.hrss_isso.models import Staff
from shared.password_login import Credentials

__all__ = ["staff_credentials", "get_staff", "create_staff"]


def staff_credentials(db: Session, login_name: str) -> Credentials | None:
    staff = db.execute(select(Staff).where(Staff.login_name == login_name)).scalar_one_or_none()
    if staff is None:
        return None
    return Credentials(staff.id, staff.password_hash, staff.status == "active", totp_secret_encrypted=staff.totp_secret_encrypted)


def get_staff(db: Session, *, staff_id: str) -> Staff | None:
    return db.get(Staff, staff_id)


def create_staff(
    db: Session,
    *,
    login_name: str,
    password_hash: str,
    totp_secret_encrypted: str,
    name: str,
    agency: str,
    roles: list[str],
    now: dt.datetime,
) -> Staff:
    staff = Staff(
        id=uuid.uuid4().hex,
        login_name=login_name,
        password_hash=password_hash,
        name=name,
        agency=agency,
        roles=" ".join(roles),
        status="active",
        created_at=now,
        totp_secret_encrypted=totp_secret_encrypted,
    )
    db.add(staff)
    return staff
