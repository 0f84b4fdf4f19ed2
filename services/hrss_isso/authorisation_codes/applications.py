"""经办人实名授权绑定, steps (3)–(5): 申请单位授权码, the agency's review
(online, or 线下申请 at the window), the code by SMS, and 授权码实名.

An authorisation code belongs to one handler and one unit. It is stored as
an HMAC under the service's secret (codes are short, so a plain hash could
be brute-forced from a database copy), works once, and expires unused after
``code_ttl_days``. Wrong guesses are counted per handler.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.hrss_isso import audit
from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.bindings import active_binding
from services.hrss_isso.accounts.persons import beijing_today, find_by_id_number
from services.hrss_isso.accounts.units import find_units
from services.hrss_isso.authorisation_codes.materials import (
    MATERIAL_KINDS,
    CheckedFile,
    UploadRejected,
    check_material,
    material_bytes,
    store_material,
)
from services.hrss_isso.forms import Errors, FormRejected, Refused
from services.hrss_isso.models import AuthorizationApplication, Material, Person, Staff, Unit, UnitBinding
from shared.clock import BEIJING, Clock, as_utc
from shared.db import Database
from shared.randomness import TokenSource
from shared.ratelimit import Limiter
from shared.sms import SmsGateway

__all__ = ["REVIEW_ROLE", "VIEW_ROLE", "STATUS_LABELS", "CODE_ALPHABET", "Candidate", "Authorizations", "code_state"]

REVIEW_ROLE = "authcode_review"
VIEW_ROLE = "authcode_view"
STATUS_LABELS = {"submitted": "待审核", "approved": "已通过", "rejected": "已驳回"}
CHANNEL_LABELS = {"online": "线上申请", "window": "线下申请（窗口）"}
# No 0/O or 1/I: the code is read from a text message and typed by hand.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def code_state(app: AuthorizationApplication, now: dt.datetime) -> str:
    """What the handler sees about an application and its code."""
    if app.status != "approved":
        return STATUS_LABELS.get(app.status, app.status)
    if app.code_used_at is not None:
        return "已完成授权码实名"
    if app.code_expires_at is not None and as_utc(app.code_expires_at) <= now:
        return "授权码已过期"
    return "已通过，待授权码实名"


def _record_issue(s: Session, *, staff: Staff, app: AuthorizationApplication, action: str, at: dt.datetime, **fields: object) -> None:
    """The audit entry of a code issued by a reviewer (approved online or at the window), naming their agency."""
    audit.record(
        s, at=at, actor_type="staff", actor_id=staff.id, action=action, target=f"application:{app.id}", agency=staff.agency, **fields
    )


@dataclass
class Candidate:
    binding: UnitBinding
    unit: Unit
    blocked: str | None  # why it cannot be ticked, if it cannot


class Authorizations:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        tokens: TokenSource,
        secret: str,
        gateway: SmsGateway,
        code_limiter: Limiter,
        code_ttl_days: int,
        max_bytes: int,
        sms_sign: str,
    ) -> None:
        self.db = db
        self.clock = clock
        self.tokens = tokens
        self._key = hashlib.sha256(b"isso-authorization-code:" + secret.encode()).digest()
        self.gateway = gateway
        self.code_limiter = code_limiter
        self.code_ttl = dt.timedelta(days=code_ttl_days)
        self.max_bytes = max_bytes
        self.sms_sign = sms_sign

    # -- codes -------------------------------------------------------------------
    def hash_code(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    def new_code(self) -> str:
        digest = hashlib.sha256(self.tokens.token(32).encode()).digest()
        return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:CODE_LENGTH])

    @staticmethod
    def normalise(code: str) -> str:
        return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:20]

    # -- 申请单位授权码 ------------------------------------------------------------
    def candidates(self, s: Session, *, person_id: str, field: str = "", value: str = "") -> list[Candidate]:
        """The handler's bound units, narrowed by 单位管理码 / USCC / 组织机构代码."""
        wanted = {u.id for u in find_units(s, field=field, value=value)} if value.strip() else None
        rows = s.execute(
            select(UnitBinding, Unit)
            .join(Unit, Unit.id == UnitBinding.unit_id)
            .where(UnitBinding.person_id == person_id, UnitBinding.status == "active")
        ).all()
        now = self.clock.now()
        found = []
        for binding, unit in rows:
            if wanted is not None and unit.id not in wanted:
                continue
            found.append(Candidate(binding, unit, self._blocked(s, binding=binding, now=now)))
        return found

    def _blocked(self, s: Session, *, binding: UnitBinding, now: dt.datetime) -> str | None:
        if binding.authorized_at is not None:
            return msg.ALREADY_AUTHORIZED
        apps = s.execute(
            select(AuthorizationApplication).where(
                AuthorizationApplication.person_id == binding.person_id, AuthorizationApplication.unit_id == binding.unit_id
            )
        ).scalars()
        for app in apps:
            if app.status == "submitted":
                return msg.APPLICATION_PENDING
            if app.status == "approved" and app.code_used_at is None and as_utc(app.code_expires_at) > now:
                return msg.UNUSED_CODE_EXISTS
        return None

    def apply(self, *, person_id: str, unit_ids: list[str], files: dict[str, tuple[str | None, bytes]]) -> str:
        """Submit one application per ticked unit, sharing the materials."""
        e = Errors()
        if not unit_ids:
            e.add("units", msg.CHOOSE_UNITS)
        checked: list[CheckedFile] = []
        for kind in MATERIAL_KINDS:
            filename, data = files.get(kind, (None, b""))
            try:
                checked.append(check_material(kind, filename, data, max_bytes=self.max_bytes))
            except UploadRejected as exc:
                e.add(kind, exc.message)
        e.raise_if_any()
        now = self.clock.now()
        batch_id = uuid.uuid4().hex
        with self.db.transaction() as s:
            for unit_id in dict.fromkeys(unit_ids):
                binding = active_binding(s, unit_id=unit_id, person_id=person_id)
                if binding is None:
                    raise FormRejected({"units": msg.ONLY_BOUND_UNITS})
                if blocked := self._blocked(s, binding=binding, now=now):
                    unit = s.get(Unit, unit_id)
                    raise FormRejected({"units": f"{unit.org_name}：{blocked}"})
                s.add(
                    AuthorizationApplication(
                        id=uuid.uuid4().hex,
                        batch_id=batch_id,
                        person_id=person_id,
                        unit_id=unit_id,
                        channel="online",
                        status="submitted",
                        submitted_at=now,
                    )
                )
            for f in checked:
                store_material(
                    s,
                    batch_id=batch_id,
                    kind=f.kind,
                    original_name=f.original_name,
                    content_type=f.content_type,
                    data=f.data,
                    uploaded_by=person_id,
                    at=now,
                )
            audit.record(
                s,
                at=now,
                actor_type="person",
                actor_id=person_id,
                action="authcode.apply",
                target=f"batch:{batch_id}",
                units=list(dict.fromkeys(unit_ids)),
            )
        return batch_id

    def applications_of_person(self, s: Session, *, person_id: str) -> list[tuple[AuthorizationApplication, Unit]]:
        rows = s.execute(
            select(AuthorizationApplication, Unit)
            .join(Unit, Unit.id == AuthorizationApplication.unit_id)
            .where(AuthorizationApplication.person_id == person_id)
            .order_by(AuthorizationApplication.submitted_at.desc())
        ).all()
        return [(a, u) for a, u in rows]

    # -- the agency's review --------------------------------------------------------
    @staticmethod
    def _staff_with(s: Session, staff_id: str, role: str) -> Staff:
        staff = s.get(Staff, staff_id)
        if staff is None or not staff.has_role(role):
            raise Refused(msg.NO_REVIEW_ROLE, 403)
        return staff

    def can_view(self, s: Session, staff_id: str) -> Staff:
        staff = s.get(Staff, staff_id)
        if staff is None or not (staff.has_role(REVIEW_ROLE) or staff.has_role(VIEW_ROLE)):
            raise Refused(msg.NO_REVIEW_ROLE, 403)
        return staff

    def list_for_staff(self, s: Session, *, staff_id: str, status: str) -> list[tuple[AuthorizationApplication, Person, Unit]]:
        self.can_view(s, staff_id)
        query = (
            select(AuthorizationApplication, Person, Unit)
            .join(Person, Person.id == AuthorizationApplication.person_id)
            .join(Unit, Unit.id == AuthorizationApplication.unit_id)
            .order_by(AuthorizationApplication.submitted_at.desc())
        )
        if status in STATUS_LABELS:
            query = query.where(AuthorizationApplication.status == status)
        return [(a, p, u) for a, p, u in s.execute(query.limit(200)).all()]

    def detail(self, s: Session, *, staff_id: str, application_id: str) -> tuple[AuthorizationApplication, Person, Unit, list[Material]]:
        self.can_view(s, staff_id)
        app = s.get(AuthorizationApplication, application_id)
        if app is None:
            raise Refused(msg.APPLICATION_NOT_FOUND, 404)
        materials = list(s.execute(select(Material).where(Material.batch_id == app.batch_id).order_by(Material.created_at)).scalars())
        return app, s.get(Person, app.person_id), s.get(Unit, app.unit_id), materials

    def material(self, *, staff_id: str, material_id: str) -> tuple[Material, bytes]:
        with self.db.transaction() as s:
            self.can_view(s, staff_id)
            material = s.get(Material, material_id)
            if material is None:
                raise Refused(msg.APPLICATION_NOT_FOUND, 404)
            data = material_bytes(s, material)
            s.expunge(material)
        return material, data

    def _issue(self, s: Session, *, app: AuthorizationApplication, person: Person, unit: Unit, now: dt.datetime) -> None:
        """A new code for the pair; an earlier unused one stops working."""
        s.execute(
            update(AuthorizationApplication)
            .where(
                AuthorizationApplication.person_id == person.id,
                AuthorizationApplication.unit_id == unit.id,
                AuthorizationApplication.id != app.id,
                AuthorizationApplication.status == "approved",
                AuthorizationApplication.code_used_at.is_(None),
                AuthorizationApplication.code_expires_at > now,
            )
            .values(code_expires_at=now)
        )
        code = self.new_code()
        expires = now + self.code_ttl
        app.code_hash = self.hash_code(code)
        app.code_expires_at = expires
        body = msg.SMS_APPROVED.format(
            org_name=unit.org_name, unit_code=unit.unit_code, code=code, expires=expires.astimezone(BEIJING).strftime("%Y-%m-%d")
        )
        self.gateway.send(s, mobile=person.mobile, body=self.sms_sign + body)

    def approve(self, *, staff_id: str, application_id: str) -> None:
        now = self.clock.now()
        with self.db.transaction() as s:
            staff = self._staff_with(s, staff_id, REVIEW_ROLE)
            app = s.get(AuthorizationApplication, application_id)
            if app is None:
                raise Refused(msg.APPLICATION_NOT_FOUND, 404)
            done = s.execute(
                update(AuthorizationApplication)
                .where(AuthorizationApplication.id == app.id, AuthorizationApplication.status == "submitted")
                .values(status="approved", reviewer_id=staff.id, reviewed_at=now)
            ).rowcount
            if not done:
                raise Refused(msg.APPLICATION_ALREADY_REVIEWED, 409)
            s.refresh(app)
            self._issue(s, app=app, person=s.get(Person, app.person_id), unit=s.get(Unit, app.unit_id), now=now)
            _record_issue(s, staff=staff, app=app, action="authcode.approve", at=now)

    def reject(self, *, staff_id: str, application_id: str, reason: str) -> None:
        reason = reason.strip()
        now = self.clock.now()
        with self.db.transaction() as s:
            staff = self._staff_with(s, staff_id, REVIEW_ROLE)
            if not reason or len(reason) > 200:
                raise FormRejected({"reason": msg.REJECT_REASON_REQUIRED})
            app = s.get(AuthorizationApplication, application_id)
            if app is None:
                raise Refused(msg.APPLICATION_NOT_FOUND, 404)
            done = s.execute(
                update(AuthorizationApplication)
                .where(AuthorizationApplication.id == app.id, AuthorizationApplication.status == "submitted")
                .values(status="rejected", reviewer_id=staff.id, reviewed_at=now, reason=reason)
            ).rowcount
            if not done:
                raise Refused(msg.APPLICATION_ALREADY_REVIEWED, 409)
            person, unit = s.get(Person, app.person_id), s.get(Unit, app.unit_id)
            self.gateway.send(
                s,
                mobile=person.mobile,
                body=self.sms_sign + msg.SMS_REJECTED.format(org_name=unit.org_name, unit_code=unit.unit_code, reason=reason),
            )
            audit.record(
                s, at=now, actor_type="staff", actor_id=staff.id, action="authcode.reject", target=f"application:{app.id}", reason=reason
            )

    def window(self, *, staff_id: str, id_number: str, unit_field: str, unit_value: str, checked: set[str]) -> str:
        """线下申请: the handler brought the materials to the window; the staff
        member checked them and records an approved application."""
        now = self.clock.now()
        with self.db.transaction() as s:
            staff = self._staff_with(s, staff_id, REVIEW_ROLE)
            e = Errors()
            id_number = e.resident_id("id_number", id_number, today=beijing_today(self.clock))
            if not unit_value.strip():
                e.add("unit_value", msg.REQUIRED.format(label="单位管理码、统一社会信用代码或组织机构代码"))
            if set(MATERIAL_KINDS) - checked:
                e.add("materials", msg.WINDOW_MATERIALS_REQUIRED)
            e.raise_if_any()
            person = find_by_id_number(s, id_number=id_number)
            if person is None:
                e.add("id_number", msg.WINDOW_PERSON_NOT_FOUND)
            units = find_units(s, field=unit_field, value=unit_value)
            if len(units) != 1:
                e.add("unit_value", msg.WINDOW_UNIT_NOT_FOUND)
            e.raise_if_any()
            unit = units[0]
            pending = s.execute(
                select(AuthorizationApplication.id).where(
                    AuthorizationApplication.person_id == person.id,
                    AuthorizationApplication.unit_id == unit.id,
                    AuthorizationApplication.status == "submitted",
                )
            ).first()
            if pending is not None:
                raise FormRejected({"": msg.WINDOW_PENDING_EXISTS})
            app = AuthorizationApplication(
                id=uuid.uuid4().hex,
                batch_id=uuid.uuid4().hex,
                person_id=person.id,
                unit_id=unit.id,
                channel="window",
                status="approved",
                submitted_at=now,
                reviewed_at=now,
                reviewer_id=staff.id,
            )
            s.add(app)
            self._issue(s, app=app, person=person, unit=unit, now=now)
            _record_issue(s, staff=staff, app=app, action="authcode.window", at=now, materials=sorted(checked))
            return app.id

    # -- 授权码实名 --------------------------------------------------------------
    def enter_code(self, *, person_id: str, unit_id: str, code: str) -> None:
        key = f"authcode:{person_id}"
        if self.code_limiter.is_blocked(key):
            raise FormRejected({"code": msg.TOO_MANY_CHECKS.format(minutes=self.code_limiter.window_seconds // 60)})
        normalised = self.normalise(code)
        if not normalised:
            raise FormRejected({"code": msg.CODE_REQUIRED})
        now = self.clock.now()
        problem = msg.CODE_WRONG
        with self.db.transaction() as s:
            app = (
                s.execute(
                    select(AuthorizationApplication).where(
                        AuthorizationApplication.person_id == person_id,
                        AuthorizationApplication.code_hash == self.hash_code(normalised),
                        AuthorizationApplication.status == "approved",
                    )
                )
                .scalars()
                .first()
            )
            if app is not None:
                problem = self._complete(s, app=app, person_id=person_id, unit_id=unit_id, now=now)
                if problem is None:
                    return
        if problem == msg.CODE_WRONG:
            self.code_limiter.hit(key)
        raise FormRejected({"code": problem})

    def _complete(self, s: Session, *, app: AuthorizationApplication, person_id: str, unit_id: str, now: dt.datetime) -> str | None:
        if app.unit_id != unit_id:
            return msg.CODE_OTHER_UNIT
        if app.code_used_at is not None:
            return msg.CODE_USED
        if as_utc(app.code_expires_at) <= now:
            return msg.CODE_EXPIRED
        binding = active_binding(s, unit_id=unit_id, person_id=person_id)
        if binding is None:
            return msg.NOT_BOUND
        # Single use even when two submissions race: only one UPDATE wins.
        spent = s.execute(
            update(AuthorizationApplication)
            .where(AuthorizationApplication.id == app.id, AuthorizationApplication.code_used_at.is_(None))
            .values(code_used_at=now)
        ).rowcount
        if not spent:
            return msg.CODE_USED
        binding.authorized_at = now
        binding.authorization_id = app.id
        audit.record(
            s, at=now, actor_type="person", actor_id=person_id, action="authcode.enter", target=f"application:{app.id}", unit_id=unit_id
        )
        return None
