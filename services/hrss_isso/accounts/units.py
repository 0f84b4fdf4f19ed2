"""Units (单位): queries, the mapping of provincial identities to HRSS
units, and 单位注册 in the seed's three steps."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.hrss_isso import audit
from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import beijing_today, find_by_login_name, login_name_taken
from services.hrss_isso.forms import Errors, FormRejected
from services.hrss_isso.models import FederatedLogin, Person, ProvincialLink, Unit, UnitBinding
from services.hrss_isso.registration.regions import GUANGDONG_CITIES
from shared.clock import Clock
from shared.db import Database
from shared.password_login import Credentials
from shared.passwords import PasswordService
from shared.randomness import TokenSource
from shared.ratelimit import Limiter
from shared.sms import SmsCodes

__all__ = [
    "get_unit",
    "find_unit_for_provincial",
    "record_federated_login",
    "federated_login_ended",
    "end_federated_logins",
    "new_unit_id",
    "find_units",
    "unit_credentials",
    "org_code_of",
    "CERT_TYPES",
    "LEGAL_REP_ID_TYPE",
    "UnitRegistration",
    "ProvincialClaims",
    "unit_with_uscc",
    "confirm_provincial_link",
]

CERT_TYPES = {"uscc": "统一社会信用代码", "org_code": "组织机构代码"}
LEGAL_REP_ID_TYPE = "居民身份证（户口簿）"
SEARCH_FIELDS = {"unit_code": "单位管理码", "uscc": "统一社会信用代码", "org_code": "组织机构代码"}


@dataclass(frozen=True)
class ProvincialClaims:
    """What 登录初始化 keeps of a verified provincial legal person (from
    the server-side session, never from the form)."""

    issuer: str
    subject: str
    uscc: str
    org_name: str


def unit_with_uscc(db: Session, *, uscc: str) -> Unit | None:
    return db.execute(select(Unit).where(Unit.uscc == uscc)).scalar_one_or_none()


def confirm_provincial_link(db: Session, *, person_id: str, issuer: str, subject: str, uscc: str, now: dt.datetime) -> str | None:
    """A handler of the unit registered with ``uscc`` confirms its link to
    this provincial legal person. None when linked; else why not."""
    unit = unit_with_uscc(db, uscc=uscc)
    person = db.get(Person, person_id)
    if unit is None or unit.status != "active":
        return "未找到该统一社会信用代码对应的单位账号。"
    binding = db.execute(
        select(UnitBinding).where(UnitBinding.unit_id == unit.id, UnitBinding.person_id == person_id, UnitBinding.status == "active")
    ).scalar_one_or_none()
    if binding is None or person is None or person.status != "active" or person.realname_level < 2:
        return "您不是该单位已绑定的二级及以上实名经办人，无法确认关联。"
    taken = db.execute(
        select(ProvincialLink.id).where(
            ProvincialLink.issuer == issuer, or_(ProvincialLink.uscc == uscc, ProvincialLink.subject == subject)
        )
    ).first()
    if taken is not None:
        return "该单位或该省统一身份认证法人账号已存在关联，无需重复确认。"
    db.add(ProvincialLink(unit_id=unit.id, issuer=issuer, uscc=uscc, subject=subject, linked_at=now))
    audit.record(
        db,
        at=now,
        actor_type="person",
        actor_id=person_id,
        action="unit.provincial_link_confirmed",
        target=f"unit:{unit.id}",
        unit_code=unit.unit_code,
    )
    return None


def new_unit_id() -> str:
    return uuid.uuid4().hex


def org_code_of(uscc: str) -> str:
    """GB 32100: positions 9–17 of a USCC are the unit's 组织机构代码."""
    return uscc[8:17]


def get_unit(db: Session, *, unit_id: str) -> Unit | None:
    return db.get(Unit, unit_id)


def unit_credentials(db: Session, login_name: str) -> Credentials | None:
    unit = db.execute(select(Unit).where(Unit.login_name == login_name)).scalar_one_or_none()
    if unit is None or unit.password_hash is None:
        return None
    return Credentials(unit.id, unit.password_hash, unit.status == "active")


def find_units(db: Session, *, field: str, value: str) -> list[Unit]:
    """Units by 单位管理码, 统一社会信用代码 or 组织机构代码 (exact match)."""
    value = value.strip().upper()
    if not value:
        return []
    column = {"unit_code": Unit.unit_code, "uscc": Unit.uscc, "org_code": Unit.org_code}.get(field)
    column_filter = or_(Unit.unit_code == value, Unit.uscc == value, Unit.org_code == value) if column is None else column == value
    return list(db.execute(select(Unit).where(column_filter, Unit.status == "active")).scalars())


def find_unit_for_provincial(db: Session, *, issuer: str, subject: str, uscc: str, now: dt.datetime) -> Unit | None:
    """The unit linked to this provincial legal person, or None.

    A link already bound to the provider's ``sub`` decides. A link prepared
    in advance (subject empty) is bound at the first login with its USCC.
    A unit with no link is not entered: first-login initialisation (or a
    handler's confirmation) creates links, never the USCC alone.
    """
    link = db.execute(select(ProvincialLink).where(ProvincialLink.issuer == issuer, ProvincialLink.subject == subject)).scalar_one_or_none()
    if link is None:
        link = db.execute(
            select(ProvincialLink).where(ProvincialLink.issuer == issuer, ProvincialLink.uscc == uscc, ProvincialLink.subject.is_(None))
        ).scalar_one_or_none()
        if link is None:
            return None
        link.subject = subject
        link.linked_at = now
    unit = db.get(Unit, link.unit_id)
    if unit is None or unit.status != "active" or unit.uscc != link.uscc:
        return None
    return unit


def record_federated_login(
    db: Session,
    *,
    unit: Unit,
    issuer: str,
    subject: str,
    acr: str | None,
    auth_time: int,
    sid: str,
    now: dt.datetime,
    upstream_sid: str | None = None,
) -> None:
    db.add(
        FederatedLogin(
            unit_id=unit.id,
            issuer=issuer,
            subject=subject,
            acr=acr,
            auth_time=auth_time,
            sid=sid,
            created_at=now,
            upstream_sid=upstream_sid,
        )
    )


def federated_login_ended(db: Session, *, sid: str) -> bool:
    """True when the ISSO session ``sid`` came from an upstream session that
    gdzwfw_idp has since ended (back-channel logout)."""
    return (
        db.execute(select(FederatedLogin.id).where(FederatedLogin.sid == sid, FederatedLogin.ended_at.is_not(None)).limit(1)).first()
        is not None
    )


def end_federated_logins(db: Session, *, issuer: str, upstream_sid: str, now: dt.datetime) -> list[str]:
    """Mark the ISSO sessions made from this upstream session ended; their ISSO sids."""
    rows = list(
        db.execute(
            select(FederatedLogin).where(
                FederatedLogin.issuer == issuer, FederatedLogin.upstream_sid == upstream_sid, FederatedLogin.ended_at.is_(None)
            )
        ).scalars()
    )
    for row in rows:
        row.ended_at = now
    return [row.sid for row in rows]


@dataclass(kw_only=True, eq=False)
class UnitRegistration:
    """单位注册: 1 单位所属实名人员信息 → 2 单位信息 → 3 注册完成.

    Only step 2 writes, in one transaction: abandoning or failing a step
    leaves nothing behind (step 1's outcome lives in the browser session).
    """

    db: Database
    clock: Clock
    tokens: TokenSource
    passwords: PasswordService
    sms: SmsCodes
    check_limiter: Limiter
    max_keyboard_run: int

    def check_registrant(self, *, login_name: str, id_number: str, address: str) -> str:
        """Step 1: an existing personal account with this ID number, at
        二级 or higher. Returns the person's id."""
        e = Errors()
        e.required("login_name", login_name, "实名个人登录账号")
        id_number = e.resident_id("id_number", id_number, today=beijing_today(self.clock))
        e.raise_if_any()
        key = f"unit-step1:{address}"
        if self.check_limiter.is_blocked(key):
            raise FormRejected({"": msg.TOO_MANY_CHECKS.format(minutes=self.check_limiter.window_seconds // 60)})
        with self.db.transaction() as s:
            person = find_by_login_name(s, login_name=login_name)
            found = (person.id, person.realname_level, person.status) if person is not None and person.id_number == id_number else None
        if found is None or found[2] != "active":
            self.check_limiter.hit(key)
            raise FormRejected({"": msg.STEP1_MISMATCH})
        if found[1] < 2:
            raise FormRejected({"": msg.LEVEL_TOO_LOW})
        return found[0]

    def register(self, *, person_id: str, form: dict[str, str], provincial: ProvincialClaims | None = None) -> Unit:
        """Step 2: every field of the seed's 单位信息, then the unit exists.

        With ``provincial`` (登录初始化) the USCC and the unit name come from
        the verified provincial claims whatever the form says, and the same
        transaction links the unit to that provincial identity and binds the
        step-1 person as its handler.
        """
        e = Errors()
        if provincial is not None:
            form = {**form, "cert_type": "uscc", "cert_number": provincial.uscc, "org_name": provincial.org_name}
        cert_type = form.get("cert_type", "")
        if cert_type not in CERT_TYPES:
            e.add("cert_type", msg.CHOOSE.format(label="证件类型"))
            cert_number = form.get("cert_number", "")
        else:
            cert_number = e.unit_cert("cert_number", cert_type, form.get("cert_number", ""))
        org_name = e.length("org_name", form.get("org_name", ""), 2, 100, msg.ORG_NAME_RULE, label="单位名称")
        region = form.get("region_code", "")
        if region not in GUANGDONG_CITIES:
            e.add("region_code", msg.CHOOSE.format(label="单位所在地"))
        address = e.length("address", form.get("address", ""), 5, 100, msg.ADDRESS_RULE, label="详细地址")
        rep_name = e.person_name("legal_rep_name", form.get("legal_rep_name", ""), message=msg.LEGAL_REP_NAME_RULE)
        if form.get("legal_rep_id_type", "") != LEGAL_REP_ID_TYPE:
            e.add("legal_rep_id_type", msg.CHOOSE.format(label="法定代表人证件类型"))
        rep_id = e.resident_id("legal_rep_id_number", form.get("legal_rep_id_number", ""), today=beijing_today(self.clock))
        rep_mobile = e.mobile("legal_rep_mobile", form.get("legal_rep_mobile", ""))
        login_name = e.login_name("login_name", form.get("login_name", ""))
        password = e.new_password(
            "password", form.get("password", ""), "password2", form.get("password2", ""), max_keyboard_run=self.max_keyboard_run
        )
        sms_code = e.sms_code("sms_code", form.get("sms_code", ""))
        e.raise_if_any()
        uscc = cert_number if cert_type == "uscc" else None
        org_code = org_code_of(cert_number) if cert_type == "uscc" else cert_number
        password_hash = self.passwords.hash(password)
        now = self.clock.now()
        unit: Unit | None = None
        with self.db.transaction() as s:
            registrant = s.get(Person, person_id)
            if registrant is None or registrant.status != "active" or registrant.realname_level < 2:
                # Step 1 is judged again: the level may have changed since.
                raise FormRejected({"": msg.LEVEL_TOO_LOW})
            if self._registered(s, uscc=uscc, org_code=org_code):
                e.add("cert_number", msg.ID_EXISTS)
            if login_name_taken(s, login_name=login_name):
                e.add("login_name", msg.LOGIN_NAME_TAKEN)
            if not e and (problem := self.sms.verify(s, mobile=rep_mobile, purpose="register_unit", code=sms_code)):
                e.add("sms_code", problem)
            if not e:
                unit = Unit(
                    id=new_unit_id(),
                    unit_code="",
                    uscc=uscc,
                    org_code=org_code,
                    cert_type=cert_type,
                    org_name=org_name,
                    status="active",
                    region_code=region,
                    address=address,
                    legal_rep_name=rep_name,
                    legal_rep_id_type=LEGAL_REP_ID_TYPE,
                    legal_rep_id_number=rep_id,
                    legal_rep_mobile=rep_mobile,
                    login_name=login_name,
                    password_hash=password_hash,
                    registered_by=person_id,
                    created_at=now,
                )
                extras = self._provincial_rows(provincial, person_id, now) if provincial is not None else ()
                unit = self._insert(s, unit, region, e, extras)
                if unit is not None:
                    # 登录初始化 links the provincial identity first, then registers.
                    for action in ("unit.provincial_link", "unit.register") if provincial is not None else ("unit.register",):
                        audit.record(
                            s,
                            at=now,
                            actor_type="person",
                            actor_id=person_id,
                            action=action,
                            target=f"unit:{unit.id}",
                            unit_code=unit.unit_code,
                        )
        e.raise_if_any()
        assert unit is not None
        return unit

    def _registered(self, s: Session, *, uscc: str | None, org_code: str) -> bool:
        conditions = [Unit.org_code == org_code]
        if uscc:
            conditions.append(Unit.uscc == uscc)
        return s.execute(select(Unit.id).where(or_(*conditions))).first() is not None

    @staticmethod
    def _provincial_rows(provincial: ProvincialClaims, person_id: str, now: dt.datetime):
        def rows(unit: Unit) -> list:
            return [
                ProvincialLink(unit_id=unit.id, issuer=provincial.issuer, uscc=provincial.uscc, subject=provincial.subject, linked_at=now),
                UnitBinding(unit_id=unit.id, person_id=person_id, status="active", requested_at=now, decided_at=now),
            ]

        return (rows,)

    def _insert(self, s: Session, unit: Unit, region: str, e: Errors, extras=()) -> Unit | None:
        """单位管理码: the city's division code and five random digits.
        ``extras`` make rows that stand or fall with the unit."""
        for _ in range(20):
            unit.unit_code = region + self.tokens.digits(5)
            if s.execute(select(Unit.id).where(Unit.unit_code == unit.unit_code)).first() is not None:
                continue
            try:
                with s.begin_nested():
                    s.add(unit)
                    s.flush()
                    for make in extras:
                        s.add_all(make(unit))
                    s.flush()
                return unit
            except IntegrityError:
                # A concurrent registration of the same unit or user name.
                e.add("cert_number", msg.ID_EXISTS)
                return None
        e.add("", "单位管理码分配失败，请稍后重试")
        return None
