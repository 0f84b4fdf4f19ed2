"""hrss_isso storage: HRSS units, their links to provincial identities, a
record of every federated login, and the shared provider/key-value tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.kvstore import define_kv_table
from shared.oauth.provider.tables import define_provider_tables

__all__ = ["Base", "metadata", "Unit", "ProvincialLink", "FederatedLogin", "kv_table", "provider_tables"]

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


class Unit(Base):
    """An HRSS unit (单位) account; its id is the ``sub`` this provider issues."""

    __tablename__ = "unit"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(20), unique=True)  # 单位管理码
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    org_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ProvincialLink(Base):
    """A unit's link to its legal-person identity at a provincial provider.

    Created by first-login initialisation or prepared in advance (with
    ``subject`` empty, bound to the provider's ``sub`` at the first login
    whose USCC matches). A unit without a link is never entered by USCC alone.
    """

    __tablename__ = "provincial_link"
    __table_args__ = (UniqueConstraint("issuer", "uscc"), UniqueConstraint("issuer", "subject"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    subject: Mapped[str | None] = mapped_column(String(100), nullable=True)
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FederatedLogin(Base):
    """DESIGN.md: the ISSO records the upstream iss, acr and auth_time."""

    __tablename__ = "federated_login"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))
    acr: Mapped[str | None] = mapped_column(String(100), nullable=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    sid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


kv_table = define_kv_table(metadata)
provider_tables = define_provider_tables(metadata)
