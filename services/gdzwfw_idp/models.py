"""gdzwfw_idp storage: accounts, the trust-level audit log, handler relations,
certificate bindings, staff accounts, the reference registries (法人基础库,
人口库), the SMS tables and the shared provider and key-value tables, all on
this service's own metadata."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import declarative_base
from shared.kvstore import define_kv_table
from shared.oauth.provider.tables import define_provider_tables
from shared.sms import define_sms_tables

__all__ = [
    "Base",
    "metadata",
    "Account",
    "TrustLevelChange",
    "HandlerRelation",
    "CertificateBinding",
    "StaffAccount",
    "LegalPersonRecord",
    "PersonRecord",
    "kv_table",
    "provider_tables",
    "sms_tables",
]

Base = declarative_base()
metadata = Base.metadata


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
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # legal person
    org_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True, nullable=True)
    legal_rep_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    legal_rep_id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    # 证件地址: province / city / district as named in data/guangdong_divisions.json, plus the detail
    address_province: Mapped[str | None] = mapped_column(String(20), nullable=True)
    address_city: Mapped[str | None] = mapped_column(String(20), nullable=True)
    address_district: Mapped[str | None] = mapped_column(String(30), nullable=True)
    address_detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # 申请人 (the operator who registered the legal person, checked by the WeChat face check)
    applicant_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    applicant_id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    # natural person
    person_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Raised by every password change or reset; a login remembers the value it
    # began under, so the logins from before the change stop counting.
    login_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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


class HandlerRelation(Base):
    """我的经办人 / 我经办的法人: a natural person who may act for a legal person."""

    __tablename__ = "handler_relation"
    __table_args__ = (UniqueConstraint("legal_person_id", "handler_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    legal_person_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    handler_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CertificateBinding(Base):
    """A certificate that passed 网银证书核验 (kind ``bank``) or 企业/单位CA证书核验
    (kind ``ca``); its presence lets the unit log in with that kind of certificate."""

    __tablename__ = "certificate_binding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # bank | ca
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    serial_hex: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(500))
    not_after: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class StaffAccount(Base):
    """办事大厅 staff: password + TOTP (RFC 6238); ``role`` decides what they may do."""

    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login_name: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    hall: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))  # hall_officer | auditor
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LegalPersonRecord(Base):
    """法人基础库: a reference table loaded from CSV (DESIGN.md § Stand-ins)."""

    __tablename__ = "legal_person_registry"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    org_name: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(20))
    legal_rep_name: Mapped[str] = mapped_column(String(50))
    legal_rep_id_number: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(10))  # 存续 | 注销 | 吊销
    address: Mapped[str] = mapped_column(String(200))


class PersonRecord(Base):
    """人口库: natural persons' name and ID number, loaded from CSV."""

    __tablename__ = "population_registry"

    id_number: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


kv_table = define_kv_table(metadata)
sms_tables = define_sms_tables(metadata)
provider_tables = define_provider_tables(metadata)
