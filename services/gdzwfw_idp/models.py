"""gdzwfw_idp storage: accounts, the trust-level audit log, and the shared
provider and key-value tables, all on this service's own metadata."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.kvstore import define_kv_table
from shared.oauth.provider.tables import define_provider_tables

__all__ = ["Base", "metadata", "Account", "TrustLevelChange", "kv_table", "provider_tables"]

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


class Account(Base):
    """A natural-person (个人) or legal-person (法人) account."""

    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the OIDC ``sub``
    account_type: Mapped[str] = mapped_column(String(20))  # legal_person | natural_person
    login_name: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    trust_level: Mapped[str] = mapped_column(String(4))  # L1 | L2 | L3
    verification_method: Mapped[str] = mapped_column(String(40))  # e.g. 法人基础库
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # legal person
    org_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True, nullable=True)
    legal_rep_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    legal_rep_id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    # natural person
    person_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TrustLevelChange(Base):
    """Every change of an account's level: who, on which evidence, when."""

    __tablename__ = "trust_level_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    from_level: Mapped[str | None] = mapped_column(String(4), nullable=True)
    to_level: Mapped[str] = mapped_column(String(4))
    method: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


kv_table = define_kv_table(metadata)
provider_tables = define_provider_tables(metadata)
