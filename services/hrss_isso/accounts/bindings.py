"""经办人实名授权绑定, steps (1) and (2): a unit account (父账号) asks a
handler's real-name personal account (子账号) to bind; the handler accepts
or declines; either side can end it.

Every transition is a conditional UPDATE on the current status, so a
request withdrawn while the handler was reading it cannot be accepted.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.hrss_isso import audit
from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import beijing_today, find_by_login_name
from services.hrss_isso.forms import Errors, FormRejected, Refused
from services.hrss_isso.models import Person, Unit, UnitBinding
from shared.clock import Clock
from shared.db import Database
from shared.trust import TrustLevel

__all__ = ["STATUS_LABELS", "handler_level", "active_binding", "bindings_of_person", "bindings_of_unit", "Bindings"]

STATUS_LABELS = {"pending": "待确认", "active": "已绑定", "declined": "已拒绝", "withdrawn": "已撤回", "ended": "已解除"}


def handler_level(person: Person | None, binding: UnitBinding | None) -> TrustLevel:
    """DESIGN.md § Trust levels: a handler at 二级 or higher, bound to the
    unit, with 授权码实名 completed acts for the unit at L2; else L1."""
    if (
        person is not None
        and person.status == "active"
        and person.realname_level >= 2
        and binding is not None
        and binding.status == "active"
        and binding.authorized_at is not None
    ):
        return TrustLevel.L2
    return TrustLevel.L1


def active_binding(db: Session, *, unit_id: str, person_id: str) -> UnitBinding | None:
    return db.execute(
        select(UnitBinding).where(UnitBinding.unit_id == unit_id, UnitBinding.person_id == person_id, UnitBinding.status == "active")
    ).scalar_one_or_none()


def bindings_of_person(db: Session, *, person_id: str, statuses: tuple[str, ...] | None = None) -> list[tuple[UnitBinding, Unit]]:
    query = select(UnitBinding, Unit).join(Unit, Unit.id == UnitBinding.unit_id).where(UnitBinding.person_id == person_id)
    if statuses:
        query = query.where(UnitBinding.status.in_(statuses))
    return [(b, u) for b, u in db.execute(query.order_by(UnitBinding.requested_at.desc(), UnitBinding.id.desc())).all()]


def bindings_of_unit(db: Session, *, unit_id: str) -> list[tuple[UnitBinding, Person]]:
    query = select(UnitBinding, Person).join(Person, Person.id == UnitBinding.person_id).where(UnitBinding.unit_id == unit_id)
    return [(b, p) for b, p in db.execute(query.order_by(UnitBinding.requested_at.desc(), UnitBinding.id.desc())).all()]


class Bindings:
    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def request(self, *, unit_id: str, login_name: str, id_number: str) -> None:
        """子账号信息 → 新增经办人: identify the handler by login name and ID
        number together (neither alone reveals an account) and ask."""
        e = Errors()
        e.required("handler_login_name", login_name, "经办人实名个人登录账号")
        id_number = e.resident_id("handler_id_number", id_number, today=beijing_today(self.clock))
        e.raise_if_any()
        now = self.clock.now()
        with self.db.transaction() as s:
            person = find_by_login_name(s, login_name=login_name)
            if person is None or person.id_number != id_number or person.status != "active":
                raise FormRejected({"": msg.HANDLER_NOT_FOUND})
            binding = s.execute(
                select(UnitBinding).where(UnitBinding.unit_id == unit_id, UnitBinding.person_id == person.id)
            ).scalar_one_or_none()
            if binding is not None and binding.status == "pending":
                raise FormRejected({"": msg.BINDING_PENDING})
            if binding is not None and binding.status == "active":
                raise FormRejected({"": msg.BINDING_ACTIVE})
            if binding is None:
                try:
                    with s.begin_nested():
                        s.add(UnitBinding(unit_id=unit_id, person_id=person.id, status="pending", requested_at=now))
                        s.flush()
                except IntegrityError:
                    raise FormRejected({"": msg.BINDING_PENDING}) from None
            else:
                # A declined, withdrawn or ended pair is asked again.
                reopened = s.execute(
                    update(UnitBinding)
                    .where(UnitBinding.id == binding.id, UnitBinding.status.in_(("declined", "withdrawn", "ended")))
                    .values(status="pending", requested_at=now, decided_at=None, ended_at=None, authorized_at=None, authorization_id=None)
                ).rowcount
                if not reopened:
                    raise FormRejected({"": msg.BINDING_PENDING})
            audit.record(
                s, at=now, actor_type="unit", actor_id=unit_id, action="binding.request", target=f"person:{person.id}", unit_id=unit_id
            )

    def _transition(self, *, binding_id: int, owner: tuple[str, str], from_status: str, to_status: str, stamp: str, **also: object) -> None:
        """Move one binding of ``owner`` (("unit"|"person", id)) out of
        ``from_status`` into ``to_status``, its column ``stamp`` set to now and
        ``also`` written with it; refused with the reason when it is not there."""
        now = self.clock.now()
        kind, owner_id = owner
        with self.db.transaction() as s:
            binding = s.get(UnitBinding, binding_id)
            if binding is None or (binding.unit_id if kind == "unit" else binding.person_id) != owner_id:
                raise Refused(msg.BINDING_NOT_FOUND, 404)
            done = s.execute(
                update(UnitBinding)
                .where(UnitBinding.id == binding_id, UnitBinding.status == from_status)
                .values(status=to_status, **{stamp: now}, **also)
            ).rowcount
            if not done:
                s.refresh(binding)
                if binding.status == "withdrawn" and from_status == "pending":
                    raise Refused(msg.BINDING_WITHDRAWN, 409)
                raise Refused(msg.BINDING_NOT_PENDING, 409)
            audit.record(
                s,
                at=now,
                actor_type=kind,
                actor_id=owner_id,
                action=f"binding.{to_status}",
                target=f"person:{binding.person_id}",
                unit_id=binding.unit_id,
            )

    def _decide(self, owner: tuple[str, str], binding_id: int, to_status: str) -> None:
        """A pending request answered: withdrawn by the unit, accepted or declined by the person."""
        self._transition(binding_id=binding_id, owner=owner, from_status="pending", to_status=to_status, stamp="decided_at")

    def withdraw(self, *, unit_id: str, binding_id: int) -> None:
        self._decide(("unit", unit_id), binding_id, "withdrawn")

    def accept(self, *, person_id: str, binding_id: int) -> None:
        self._decide(("person", person_id), binding_id, "active")

    def decline(self, *, person_id: str, binding_id: int) -> None:
        self._decide(("person", person_id), binding_id, "declined")

    def end(self, *, owner: tuple[str, str], binding_id: int) -> None:
        """解除绑定 by either side; 授权码实名 ends with it."""
        self._transition(
            binding_id=binding_id,
            owner=owner,
            from_status="active",
            to_status="ended",
            stamp="ended_at",
            authorized_at=None,
            authorization_id=None,
        )
