"""What hrss_isso's handlers need, as FastAPI dependencies.

A handler's signature says what it needs: the account services
(:data:`IssoDep`), the provider (:data:`ProviderDep`), the upstream relying
party (:data:`UpstreamDep`), the logged-in person (:data:`PersonDep`), the
unit logged in with its own account (:data:`UnitAccountDep`), a staff member
with a role (:data:`ReviewingStaff`)… A guard that cannot let the request
through raises :class:`~shared.web.deps.Redirect` (to the login page it
needs) or :class:`~shared.web.deps.Refused`. The shared ones (``DbDep``,
``ClockDep``, ``CsrfForm``…) are in :mod:`shared.web.deps`.

The parts ``create_app`` builds are on ``app.state``; only this module and
start-up code read it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import get_person
from services.hrss_isso.accounts.units import get_unit
from services.hrss_isso.authorisation_codes.applications import REVIEW_ROLE, VIEW_ROLE
from services.hrss_isso.hooks import session_ended
from services.hrss_isso.login.sessions import clear_logins
from services.hrss_isso.models import Person, Staff, Unit
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.staff.accounts import get_staff
from shared.db import Database
from shared.oauth.backchannel import LogoutTokenValidator
from shared.oauth.client import RelyingParty
from shared.oauth.provider.provider import Provider
from shared.web.deps import DbDep, Redirect, Refused, from_state

__all__ = [
    "PERSON_LOGIN",
    "UNIT_LOGIN",
    "STAFF_LOGIN",
    "STAFF_HOME",
    "IssoDep",
    "ProviderDep",
    "UpstreamDep",
    "LogoutValidatorDep",
    "CurrentPerson",
    "CurrentUnit",
    "PersonDep",
    "UnitAccount",
    "UnitAccountDep",
    "StaffIdDep",
    "ViewingStaff",
    "ReviewingStaff",
    "load_person",
    "load_unit",
    "unit_account",
    "require_staff",
]

PERSON_LOGIN = "/isso/login?tab=personal&method=password"
UNIT_LOGIN = "/isso/login?tab=unit&method=password"
STAFF_LOGIN = "/isso/staff/login"
STAFF_HOME = "/isso/staff/applications"


# -- the parts create_app built -------------------------------------------------------
IssoDep = Annotated[IssoServices, Depends(from_state("isso"))]
ProviderDep = Annotated[Provider, Depends(from_state("provider"))]
UpstreamDep = Annotated[RelyingParty, Depends(from_state("rp"))]  # gdzwfw_idp, seen from here: the ISSO is its relying party
LogoutValidatorDep = Annotated[LogoutTokenValidator, Depends(from_state("logout_validator"))]


# -- who is logged in ----------------------------------------------------------------
async def _still_logged_in(request: Request, db: Database, key: str, get: Callable[[Session, str], Any]) -> Any | None:
    """The account the session's login ``key`` names, unless that login
    ended away from this browser (single logout from gdzwfw_idp, or the
    person's password was reset since): then it ends over here too."""
    account_id = request.session.get(key)
    if not account_id:
        return None
    session = dict(request.session)

    def load() -> Any | None | bool:
        with db.transaction() as s:
            if session_ended(s, session):
                return False
            found = get(s, account_id)
            if found is not None:
                s.expunge(found)
            return found

    found = await run_in_threadpool(load)
    if found is False:
        clear_logins(request.session)
        return None
    return found


async def load_person(request: Request, db: Database) -> Person | None:
    """The person of this browser's personal login, if it still counts."""
    person = await _still_logged_in(request, db, "person_id", lambda s, person_id: get_person(s, person_id=person_id))
    return person if person is not None and person.status == "active" else None


async def load_unit(request: Request, db: Database) -> Unit | None:
    """The unit this browser is logged in for, however it logged in."""
    return await _still_logged_in(request, db, "unit_id", lambda s, unit_id: get_unit(s, unit_id=unit_id))


async def unit_account(request: Request, db: Database) -> Unit | None:
    """The unit logged in with its own account (not a handler, not federated)."""
    session = request.session
    if session.get("idp") != "hrss" or session.get("act") or session.get("person_id"):
        return None
    return await load_unit(request, db)


async def current_person(request: Request, db: DbDep) -> Person | None:
    return await load_person(request, db)


async def current_unit(request: Request, db: DbDep) -> Unit | None:
    return await load_unit(request, db)


async def require_person(person: Annotated[Person | None, Depends(current_person)]) -> Person:
    if person is None:
        raise Redirect(PERSON_LOGIN)
    return person


async def current_unit_account(request: Request, db: DbDep) -> Unit | None:
    return await unit_account(request, db)


async def require_unit_account(unit: Annotated[Unit | None, Depends(current_unit_account)]) -> Unit:
    if unit is None:
        raise Redirect(UNIT_LOGIN)
    return unit


CurrentPerson = Annotated[Person | None, Depends(current_person)]
CurrentUnit = Annotated[Unit | None, Depends(current_unit)]
PersonDep = Annotated[Person, Depends(require_person)]
UnitAccount = Annotated[Unit | None, Depends(current_unit_account)]
UnitAccountDep = Annotated[Unit, Depends(require_unit_account)]


# -- the agency's staff ----------------------------------------------------------------
def require_staff_login(request: Request) -> str:
    """The logged-in staff member's id; the console's login page otherwise."""
    staff_id = request.session.get("staff_id")
    if not staff_id:
        raise Redirect(STAFF_LOGIN)
    return str(staff_id)


StaffIdDep = Annotated[str, Depends(require_staff_login)]


def require_staff(*roles: str) -> Callable[..., Awaitable[Staff]]:
    """The logged-in staff member, holding any of ``roles`` (the services check
    the role again for what they do)."""

    async def staff_with_role(staff_id: StaffIdDep, db: DbDep) -> Staff:
        def load() -> Staff | None:
            with db.transaction() as s:
                staff = get_staff(s, staff_id=staff_id)
                if staff is not None:
                    s.expunge(staff)
                return staff

        staff = await run_in_threadpool(load)
        if staff is None or not any(staff.has_role(role) for role in roles):
            raise Refused(msg.NO_REVIEW_ROLE, status_code=403, back_url=STAFF_HOME)
        return staff

    return staff_with_role


ViewingStaff = Annotated[Staff, Depends(require_staff(REVIEW_ROLE, VIEW_ROLE))]
ReviewingStaff = Annotated[Staff, Depends(require_staff(REVIEW_ROLE))]
