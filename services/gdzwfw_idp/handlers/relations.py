"""经办人 relations: who handles which unit, adding and removing a handler,
and whether a person may act for a unit now.

A handler is added by the account's login name, checked against the
person's name and ID number (so a typo does not hand a unit to a stranger).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import add_handler, find_by_login_name, get_account, handled_by, handlers_of, is_handler, remove_handler
from services.gdzwfw_idp.hooks import acting_level
from services.gdzwfw_idp.models import Account
from shared.clock import Clock
from shared.db import Database
from shared.identifiers import IdentifierError, mask_id_number, validate_resident_id

__all__ = ["handler_rows", "units_handled_by", "add_handler_by_identity", "remove", "act_for"]


def handler_rows(db: Database, *, legal_person_id: str) -> list[tuple[Any, Account, str]]:
    """我的经办人: (relation, handler, masked ID number) in the order they were added."""
    with db.transaction() as s:
        rows = handlers_of(s, legal_person_id=legal_person_id)
        s.expunge_all()
        return [(r, a, mask_id_number(a.id_number or "")) for r, a in rows]


def units_handled_by(db: Database, *, person_id: str) -> list[Account]:
    """我经办的法人: the active units this natural person handles."""
    with db.transaction() as s:
        person = get_account(s, account_id=person_id)
        if person is None or person.account_type != "natural_person":
            return []
        units = [a for _, a in handled_by(s, handler_id=person_id)]
        s.expunge_all()
        return units


def add_handler_by_identity(
    db: Database, clock: Clock, *, legal_person_id: str, login_name: str, person_name: str, id_number: str
) -> tuple[str | None, dict[str, str]]:
    """Add the natural person so named as a handler: (their name, {}) or (None, errors)."""
    try:
        id_number = validate_resident_id(id_number, today=clock.now().date())
    except IdentifierError as exc:
        return None, {"id_number": exc.message}
    try:
        with db.transaction() as s:
            person = find_by_login_name(s, login_name=login_name)
            if (
                person is None
                or person.account_type != "natural_person"
                or person.status != "active"
                or person.id_number != id_number
                or person.person_name != person_name
            ):
                return None, {"login_name": msg.HANDLER_NOT_FOUND}
            unit = get_account(s, account_id=legal_person_id)
            if is_handler(s, legal_person_id=unit.id, handler_id=person.id):
                return None, {"login_name": msg.HANDLER_EXISTS}
            add_handler(s, legal_person=unit, handler=person, at=clock.now())
            return person.person_name, {}
    except IntegrityError:
        return None, {"login_name": msg.HANDLER_EXISTS}


def remove(db: Database, *, legal_person_id: str, handler_id: str) -> bool:
    with db.transaction() as s:
        return remove_handler(s, legal_person_id=legal_person_id, handler_id=handler_id)


def act_for(db: Database, *, person_id: str, legal_person_id: str) -> dict[str, Any] | None:
    """The ``act`` of a login in which this person acts for the unit, or None
    when they may not (not its handler, or either account not active)."""
    with db.transaction() as s:
        handler = get_account(s, account_id=person_id)
        unit = get_account(s, account_id=legal_person_id)
        if handler is None or handler.account_type != "natural_person" or unit is None or unit.account_type != "legal_person":
            return None
        act = {"sub": handler.id, "name": handler.person_name}
        return act if acting_level(s, legal_person=unit, act=act) is not None else None
