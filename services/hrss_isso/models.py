"""hrss_isso storage: HRSS units and personal accounts, handler bindings,
unit authorisation codes and their review, staff of the social-insurance
agency, links to provincial identities, and the shared provider, key-value
and SMS tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import declarative_base
from shared.kvstore import define_kv_table
from shared.oauth.provider.tables import define_provider_tables
from shared.sms import define_sms_tables

__all__ = [
    "Base",
    "metadata",
    "Unit",
    "ProvincialLink",
    "FederatedLogin",
    "Person",
    "RealnameChange",
    "PersonProvincialLink",
    "UnitBinding",
    "AuthorizationApplication",
    "Material",
    "MaterialContent",
    "MATERIAL_CONTENT_MAX_BYTES",
    "Staff",
    "AuditEntry",
    "kv_table",
    "provider_tables",
    "sms_tables",
]

Base = declarative_base()
metadata = Base.metadata


class Unit(Base):
    """An HRSS unit (单位) account; its id is the ``sub`` this provider issues.

    Units registered here (单位注册) carry a login name and password; units
    prepared for the federated way in may have neither. ``org_code`` is the
    组织机构代码 — entered directly, or positions 9–17 of the USCC — so a unit
    cannot be registered twice under its two kinds of 证件号码.
    """

    __tablename__ = "unit"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(20), unique=True)  # 单位管理码
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True, nullable=True)
    org_code: Mapped[str | None] = mapped_column(String(9), unique=True, nullable=True)
    cert_type: Mapped[str] = mapped_column(String(10), default="uscc", server_default="uscc")  # uscc | org_code
    org_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    region_code: Mapped[str | None] = mapped_column(String(6), nullable=True)  # 单位所在地
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    legal_rep_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    legal_rep_id_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    legal_rep_id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    legal_rep_mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    login_name: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    registered_by: Mapped[str | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), nullable=True)
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
    sid: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Single logout: gdzwfw_idp's session id, named by its back-channel
    # notice; ended_at set then, and the ISSO session (``sid``) is refused.
    upstream_sid: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Person(Base):
    """A personal (个人) account of 广东人社统一认证, with its 实名 level.

    一级 on registration; 二级 after a real-name check against the population
    registry or one login through the province's personal login.
    """

    __tablename__ = "person"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ``act.sub``
    login_name: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(50))
    id_type: Mapped[str] = mapped_column(String(20), default="居民身份证")
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    mobile: Mapped[str] = mapped_column(String(20))
    realname_level: Mapped[int] = mapped_column(Integer, default=1)
    realname_method: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Raised by every password reset; a personal login remembers the value it
    # began under, so the logins from before the reset stop counting.
    login_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RealnameChange(Base):
    """Every change of a person's 实名 level: on which evidence, when."""

    __tablename__ = "realname_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    from_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_level: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PersonProvincialLink(Base):
    """A personal account's natural-person identity at a provincial provider."""

    __tablename__ = "person_provincial_link"
    __table_args__ = (UniqueConstraint("issuer", "subject"), UniqueConstraint("person_id", "issuer"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class UnitBinding(Base):
    """A unit account (父账号) and a handler's personal account (子账号).

    status: pending (the unit asked) → active (the handler accepted) |
    declined | withdrawn (the unit took the request back) | ended (unbound).
    ``authorized_at`` is set by 授权码实名 and cleared when the binding ends.
    One row per pair: a new request after an end reopens it.
    """

    __tablename__ = "unit_binding"
    __table_args__ = (UniqueConstraint("unit_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    authorized_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    authorization_id: Mapped[str | None] = mapped_column(ForeignKey("authorization_application.id", ondelete="SET NULL"), nullable=True)


class AuthorizationApplication(Base):
    """申请单位授权码: one handler, one unit. Units ticked together share a
    ``batch_id`` and its uploaded materials. The approved code is stored as
    a keyed hash; it is single-use and expires unused."""

    __tablename__ = "authorization_application"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # online | window
    status: Mapped[str] = mapped_column(String(20))  # submitted | approved | rejected
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reviewer_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    code_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Material(Base):
    """An uploaded application material: what it is (kind, type, size, hash);
    its bytes are a :class:`MaterialContent`."""

    __tablename__ = "material"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # licence | id_document | mandate
    original_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# The database refuses a stored material above this (16 MiB), whatever the
# upload limit (ISSO_UPLOAD_MAX_BYTES, 5 MB, may not be set above it).
MATERIAL_CONTENT_MAX_BYTES = 16 * 1024 * 1024


class MaterialContent(Base):
    """A material's bytes, in the database rather than on a replica's disk:
    every replica serves what any of them received, they are written in the
    transaction that records the application (no file without its row, no row
    without its file), backed up with it, and gone with the person (cascade).
    A table apart from :class:`Material` so that listing materials never reads them."""

    __tablename__ = "material_content"
    __table_args__ = (CheckConstraint(f"length(data) <= {MATERIAL_CONTENT_MAX_BYTES}", name="size_cap"),)

    material_id: Mapped[str] = mapped_column(ForeignKey("material.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Staff(Base):
    """A staff account of a social-insurance agency (社保经办机构).

    ``roles`` is a space-separated list; ``authcode_review`` may approve,
    reject and record window applications for unit authorisation codes.
    """

    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    login_name: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(50))
    agency: Mapped[str] = mapped_column(String(100))
    roles: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The console's second factor (shared.staff_totp), encrypted under
    # ISSO_STAFF_TOTP_KEYS; None until enrolled, and no login without it.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)

    def has_role(self, role: str) -> bool:
        return self.status == "active" and role in self.roles.split()


class AuditEntry(Base):
    """Who did what to which account, binding or application, and when."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_type: Mapped[str] = mapped_column(String(10))  # person | unit | staff | system
    actor_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(100), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


kv_table = define_kv_table(metadata)
provider_tables = define_provider_tables(metadata)
sms_tables = define_sms_tables(metadata)
