"""Personal accounts (个人账号): registration both ways of the seed's
「twoWaysToRegister」, 实名 levels, 找回登录账号 and 忘记密码.

Queries take one session and keyword-only arguments; the operations own
their transactions so that a wrong SMS code's attempt is counted even when
the form is refused, and nothing else is written by a refused form.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.hrss_isso import audit
from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.registry import PopulationRegistry
from services.hrss_isso.forms import Errors, FormRejected
from services.hrss_isso.models import Person, PersonProvincialLink, RealnameChange, Unit
from shared.clock import BEIJING, Clock
from shared.db import Database
from shared.identifiers import mask_id_number
from shared.password_login import Credentials
from shared.passwords import PasswordService
from shared.ratelimit import Limiter
from shared.sms import SendResult, SmsCodes, mask_mobile

__all__ = [
    "LEVEL_LABELS",
    "level_label",
    "new_id",
    "new_person",
    "get_person",
    "realname_changes",
    "find_by_login_name",
    "find_by_id_number",
    "find_by_provincial",
    "login_name_taken",
    "raise_level",
    "person_credentials",
    "beijing_today",
    "ProvincialPerson",
    "PersonalAccounts",
]

LEVEL_LABELS = {1: "一级", 2: "二级", 3: "三级"}


def level_label(level: int) -> str:
    return LEVEL_LABELS.get(level, f"{level}级")


def new_id() -> str:
    return uuid.uuid4().hex


def beijing_today(clock: Clock) -> dt.date:
    return clock.now().astimezone(BEIJING).date()


# -- queries -------------------------------------------------------------------
def get_person(db: Session, *, person_id: str) -> Person | None:
    return db.get(Person, person_id)


def realname_changes(db: Session, *, person_id: str) -> list[RealnameChange]:
    """The person's 实名 history (个人实名认证 page), newest first."""
    query = select(RealnameChange).where(RealnameChange.person_id == person_id).order_by(RealnameChange.id.desc())
    return list(db.execute(query).scalars())


def find_by_login_name(db: Session, *, login_name: str) -> Person | None:
    return db.execute(select(Person).where(Person.login_name == login_name)).scalar_one_or_none()


def find_by_id_number(db: Session, *, id_number: str) -> Person | None:
    return db.execute(select(Person).where(Person.id_number == id_number)).scalar_one_or_none()


def find_by_provincial(db: Session, *, issuer: str, subject: str) -> Person | None:
    link = db.execute(
        select(PersonProvincialLink).where(PersonProvincialLink.issuer == issuer, PersonProvincialLink.subject == subject)
    ).scalar_one_or_none()
    return db.get(Person, link.person_id) if link else None


def login_name_taken(db: Session, *, login_name: str) -> bool:
    """Personal and unit login names share one namespace, so a name never
    means two accounts on the login page."""
    if db.execute(select(Person.id).where(Person.login_name == login_name)).first():
        return True
    return db.execute(select(Unit.id).where(Unit.login_name == login_name)).first() is not None


def person_credentials(db: Session, login_name: str) -> Credentials | None:
    person = find_by_login_name(db, login_name=login_name)
    if person is None:
        return None
    # The generation read with the hash that is checked: a login that races a
    # password change carries the old one and is ended with the others.
    return Credentials(person.id, person.password_hash, person.status == "active", account=person.login_generation)


def raise_level(db: Session, *, person: Person, to_level: int, method: str, evidence: str, at: dt.datetime) -> bool:
    """Levels only rise, and only with evidence that is written down."""
    if person.realname_level >= to_level:
        return False
    db.add(
        RealnameChange(
            person_id=person.id, from_level=person.realname_level, to_level=to_level, method=method, evidence=evidence, created_at=at
        )
    )
    person.realname_level = to_level
    person.realname_method = method
    return True


def new_person(
    db: Session, *, login_name: str, password_hash: str, name: str, id_number: str, mobile: str, evidence: str, at: dt.datetime
) -> Person:
    """A person as registration makes them: 一级 (注册, on ``evidence``), the
    first entry of their level history a change from nothing."""
    person = Person(
        id=new_id(),
        login_name=login_name,
        password_hash=password_hash,
        name=name,
        id_type="居民身份证",
        id_number=id_number,
        mobile=mobile,
        realname_level=1,
        realname_method="注册（手机短信验证）",
        status="active",
        created_at=at,
    )
    db.add(person)
    db.flush()
    db.add(RealnameChange(person_id=person.id, from_level=None, to_level=1, method="注册", evidence=evidence, created_at=at))
    return person


@dataclass(frozen=True)
class ProvincialPerson:
    """A natural person as the province's identity provider vouched for them."""

    issuer: str
    subject: str
    name: str
    id_number: str
    acr: str | None


def _raise_and_record(s: Session, *, person: Person, method: str, evidence: str, action: str, at: dt.datetime, **fields: object) -> bool:
    """二级 on ``evidence``, with the person's audit entry ``action``. True when the level rose."""
    raised = raise_level(s, person=person, to_level=2, method=method, evidence=evidence, at=at)
    audit.record(s, at=at, actor_type="person", actor_id=person.id, action=action, target=f"person:{person.id}", **fields)
    return raised


def _raise_by_province(s: Session, *, person: Person, provincial: ProvincialPerson, action: str, at: dt.datetime) -> bool:
    """A provincial login vouches for the person; the audit entry names the
    provider and the level it reported."""
    iss, acr = provincial.issuer, provincial.acr
    evidence = f"iss={iss} acr={acr}"
    return _raise_and_record(s, person=person, method="省统一身份认证", evidence=evidence, action=action, at=at, iss=iss, acr=acr)


@dataclass(kw_only=True, eq=False)
class PersonalAccounts:
    db: Database
    clock: Clock
    passwords: PasswordService
    sms: SmsCodes
    registry: PopulationRegistry
    check_limiter: Limiter
    max_keyboard_run: int

    # -- SMS ---------------------------------------------------------------------
    def send_code(self, *, mobile: str, purpose: str, address: str) -> SendResult:
        # The code is sent first thing in its own transaction: its rate
        # limiters use the key-value store, which on SQLite is the same file
        # and must not wait behind a write transaction of ours.
        with self.db.transaction() as s:
            return self.sms.send(s, mobile=mobile, purpose=purpose, address=address)

    # -- 个人注册 ----------------------------------------------------------------
    def register(
        self,
        *,
        name: str,
        id_number: str,
        mobile: str,
        sms_code: str,
        login_name: str,
        password: str,
        password2: str,
        provincial: ProvincialPerson | None = None,
    ) -> Person:
        """Way 1: 证件号码 + 手机号码 with an SMS code → 一级.
        Way 2 (``provincial``): name and ID number vouched for by the
        province's personal login → 二级, linked to that identity."""
        e = Errors()
        if provincial is None:
            name = e.person_name("name", name)
            id_number = e.resident_id("id_number", id_number, today=beijing_today(self.clock))
        else:
            name, id_number = provincial.name, provincial.id_number
        mobile = e.mobile("mobile", mobile)
        e.login_name("login_name", login_name)
        e.new_password("password", password, "password2", password2, max_keyboard_run=self.max_keyboard_run)
        e.sms_code("sms_code", sms_code)
        e.raise_if_any()
        password_hash = self.passwords.hash(password)
        now = self.clock.now()
        with self.db.transaction() as s:
            if login_name_taken(s, login_name=login_name):
                e.add("login_name", msg.PERSON_LOGIN_TAKEN)
            if find_by_id_number(s, id_number=id_number) is not None:
                e.add("id_number" if provincial is None else "", msg.ID_EXISTS)
            if provincial is not None and find_by_provincial(s, issuer=provincial.issuer, subject=provincial.subject):
                e.add("", msg.ID_EXISTS)
            if not e and (problem := self.sms.verify(s, mobile=mobile, purpose="register_person", code=sms_code)):
                e.add("sms_code", problem)
            if not e:
                person = self._create(
                    s,
                    name=name,
                    id_number=id_number,
                    mobile=mobile,
                    login_name=login_name,
                    password_hash=password_hash,
                    provincial=provincial,
                    now=now,
                    e=e,
                )
        e.raise_if_any()
        return person

    def _create(self, s: Session, *, name, id_number, mobile, login_name, password_hash, provincial, now, e: Errors) -> Person | None:
        try:
            with s.begin_nested():
                evidence = f"手机号码{mask_mobile(mobile)}短信验证"
                person = new_person(
                    s,
                    login_name=login_name,
                    password_hash=password_hash,
                    name=name,
                    id_number=id_number,
                    mobile=mobile,
                    evidence=evidence,
                    at=now,
                )
                if provincial is not None:
                    s.add(PersonProvincialLink(person_id=person.id, issuer=provincial.issuer, subject=provincial.subject, linked_at=now))
                    raise_level(
                        s,
                        person=person,
                        to_level=2,
                        method="省统一身份认证",
                        evidence=f"iss={provincial.issuer} acr={provincial.acr}",
                        at=now,
                    )
                audit.record(
                    s,
                    at=now,
                    actor_type="person",
                    actor_id=person.id,
                    action="person.register",
                    target=f"person:{person.id}",
                    way="provincial" if provincial else "sms",
                )
        except IntegrityError:
            # Someone registered the same name or number a moment ago.
            e.add("", msg.ID_EXISTS)
            return None
        return person

    # -- 实名 --------------------------------------------------------------------
    def verify_realname(self, *, person_id: str, valid_until: str, long_term: bool) -> None:
        """二级 through the population registry (人口库) stand-in."""
        key = f"realname:{person_id}"
        minutes = self.check_limiter.window_seconds // 60
        if self.check_limiter.is_blocked(key):
            raise FormRejected({"": msg.TOO_MANY_CHECKS.format(minutes=minutes)})
        expiry: dt.date | None = None
        if not long_term:
            try:
                expiry = dt.date.fromisoformat(valid_until)
            except ValueError:
                raise FormRejected({"valid_until": msg.VALID_UNTIL_RULE}) from None
        now = self.clock.now()
        with self.db.transaction() as s:
            person = get_person(s, person_id=person_id)
            if person is None:
                raise FormRejected({"": msg.BINDING_NOT_FOUND})
            if person.realname_level >= 2:
                raise FormRejected({"": msg.REALNAME_ALREADY})
            check = self.registry.check(id_number=person.id_number, name=person.name, valid_until=expiry, today=beijing_today(self.clock))
            if check.ok:
                evidence = (
                    f"人口库比对一致：{person.name} {mask_id_number(person.id_number)}，证件有效期至{valid_until if expiry else '长期'}"
                )
                _raise_and_record(
                    s, person=person, method="人口库实名核验", evidence=evidence, action="person.realname", at=now, outcome="match"
                )
                return
        self.check_limiter.hit(key)
        message = {
            "no_record": msg.REALNAME_NO_RECORD,
            "card_expired": msg.REALNAME_CARD_EXPIRED,
            "deregistered": msg.REALNAME_DEREGISTERED,
        }.get(check.outcome, msg.REALNAME_FAILED)
        raise FormRejected({"valid_until": message})

    def provincial_login(self, provincial: ProvincialPerson) -> tuple[str, str] | None:
        """A personal login through the province's identity provider.

        Returns (person id, outcome) — ``linked`` (known link), ``upgraded``
        (linked and now 二级), ``disabled`` (may not log in) — or None when no
        account is linked yet: the caller offers registration (way 2), or
        asks an existing account to log in with its password first, so an
        account someone else registered under this ID number is never taken
        over by a provincial login alone.
        """
        now = self.clock.now()
        with self.db.transaction() as s:
            person = find_by_provincial(s, issuer=provincial.issuer, subject=provincial.subject)
            if person is None:
                return None
            if person.status != "active":
                return person.id, "disabled"
            raised = _raise_by_province(s, person=person, provincial=provincial, action="person.provincial_login", at=now)
            return person.id, ("upgraded" if raised else "linked")

    def link_provincial(self, *, person_id: str, provincial: ProvincialPerson) -> str | None:
        """The logged-in person logs in once through the province (the seed:
        「…第三方登录方式登录一次」): same ID number and name → linked, 二级.
        Returns an error message or None."""
        now = self.clock.now()
        with self.db.transaction() as s:
            person = get_person(s, person_id=person_id)
            if person is None:
                return msg.BINDING_NOT_FOUND
            if person.id_number != provincial.id_number or person.name != provincial.name:
                return "省统一身份认证账号的姓名、证件号码与当前个人账号不一致，无法用于实名认证"
            other = find_by_provincial(s, issuer=provincial.issuer, subject=provincial.subject)
            if other is not None and other.id != person.id:
                return "该省统一身份认证账号已关联其他个人账号"
            if other is None:
                existing = s.execute(
                    select(PersonProvincialLink).where(
                        PersonProvincialLink.person_id == person.id, PersonProvincialLink.issuer == provincial.issuer
                    )
                ).scalar_one_or_none()
                if existing is not None:
                    existing.subject, existing.linked_at = provincial.subject, now
                else:
                    s.add(PersonProvincialLink(person_id=person.id, issuer=provincial.issuer, subject=provincial.subject, linked_at=now))
            _raise_by_province(s, person=person, provincial=provincial, action="person.provincial_link", at=now)
        return None

    # -- 找回登录账号 / 忘记密码 --------------------------------------------------
    def find_login_name(self, *, id_number: str, mobile: str, sms_code: str) -> str:
        e = Errors()
        id_number = e.resident_id("id_number", id_number, today=beijing_today(self.clock))
        mobile = e.mobile("mobile", mobile)
        e.sms_code("sms_code", sms_code)
        e.raise_if_any()
        login_name = None
        with self.db.transaction() as s:
            if problem := self.sms.verify(s, mobile=mobile, purpose="find_login_name", code=sms_code):
                e.add("sms_code", problem)
            else:
                person = find_by_id_number(s, id_number=id_number)
                if person is None or person.mobile != mobile:
                    e.add("", msg.FIND_LOGIN_NOT_FOUND)
                else:
                    login_name = person.login_name
        e.raise_if_any()
        return login_name

    def start_reset(self, *, login_name: str, id_number: str, address: str) -> tuple[str, str]:
        """忘记密码, step 1: the account and its ID number; the code goes to the
        account's own mobile. Returns (person id, masked mobile)."""
        e = Errors()
        e.required("login_name", login_name, "登录账号")
        id_number = e.resident_id("id_number", id_number, today=beijing_today(self.clock))
        e.raise_if_any()
        minutes = self.check_limiter.window_seconds // 60
        key = f"reset:{address}"
        if self.check_limiter.is_blocked(key):
            raise FormRejected({"": msg.TOO_MANY_CHECKS.format(minutes=minutes)})
        with self.db.transaction() as s:
            person = find_by_login_name(s, login_name=login_name)
            found = (person.id, person.mobile) if person is not None and person.id_number == id_number else None
        if found is None:
            self.check_limiter.hit(key)
            raise FormRejected({"": msg.RESET_MISMATCH})
        sent = self.send_code(mobile=found[1], purpose="reset_password", address=address)
        if not sent.sent:
            raise FormRejected({"": sent.error or ""})
        return found[0], mask_mobile(found[1])

    def resend_reset(self, *, person_id: str, address: str) -> SendResult:
        with self.db.transaction() as s:
            person = get_person(s, person_id=person_id)
            mobile = person.mobile if person else ""
        return self.send_code(mobile=mobile, purpose="reset_password", address=address)

    def finish_reset(self, *, person_id: str, sms_code: str, password: str, password2: str) -> str:
        """忘记密码, step 2. Returns the login name (to unlock it). The login
        generation rises with the password: every earlier login of the person
        stops counting (``hooks.session_ended``)."""
        e = Errors()
        e.sms_code("sms_code", sms_code)
        e.new_password("password", password, "password2", password2, max_keyboard_run=self.max_keyboard_run)
        e.raise_if_any()
        password_hash = self.passwords.hash(password)
        now = self.clock.now()
        login_name = ""
        with self.db.transaction() as s:
            person = get_person(s, person_id=person_id)
            if person is None:
                e.add("", msg.RESET_MISMATCH)
            elif problem := self.sms.verify(s, mobile=person.mobile, purpose="reset_password", code=sms_code):
                e.add("sms_code", problem)
            else:
                s.execute(
                    update(Person)
                    .where(Person.id == person.id)
                    .values(password_hash=password_hash, login_generation=Person.login_generation + 1)
                    .execution_options(synchronize_session=False)
                )
                audit.record(
                    s, at=now, actor_type="person", actor_id=person.id, action="person.reset_password", target=f"person:{person.id}"
                )
                login_name = person.login_name
        e.raise_if_any()
        return login_name
