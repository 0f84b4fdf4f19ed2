"""What each kind of login keeps in the browser's server-side session.

A session holds at most one login for a unit (``unit_id``, see
:mod:`services.hrss_isso.hooks`) and at most one personal login
(``person_id``); these functions start, switch and clear them.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from services.hrss_isso.hooks import LOGIN_KEYS, PERSON_KEYS
from services.hrss_isso.models import Person, Unit
from shared.clock import Clock
from shared.randomness import TokenSource
from shared.trust import TrustLevel
from shared.web.sessions import rotate_session

__all__ = ["clear_logins", "start_person_session", "start_unit_session", "start_federated_unit_session", "enter_unit_as_handler"]


def clear_logins(session: dict[str, Any]) -> None:
    for key in LOGIN_KEYS + PERSON_KEYS:
        session.pop(key, None)


def start_person_session(
    request: Request, *, person: Person, amr: list[str], clock: Clock, tokens: TokenSource, generation: int | None = None
) -> None:
    """A personal login: the handler, not yet acting for any unit.
    ``generation``: the person's login generation read with the password
    that was checked (default: the loaded person's), so a reset made
    meanwhile ends this login too."""
    rotate_session(request)
    clear_logins(request.session)
    request.session.update(
        person_id=person.id,
        person_name=person.name,
        person_auth_time=clock.timestamp(),
        person_amr=amr,
        person_generation=person.login_generation if generation is None else generation,
        sid=tokens.token(16),
    )


def enter_unit_as_handler(session: dict[str, Any], *, person: Person, unit: Unit, acr: str) -> None:
    """「为选中的单位办理业务」: the handler now acts for ``unit``."""
    session.update(
        unit_id=unit.id,
        unit_name=unit.org_name,
        auth_time=session.get("person_auth_time"),
        amr=list(session.get("person_amr") or ["pwd"]),
        acr=acr,
        idp="hrss",
        act={"sub": person.id, "name": person.name},
    )
    session.pop("upstream", None)


def start_unit_session(request: Request, *, unit: Unit, clock: Clock, tokens: TokenSource) -> None:
    """A bare unit-account login: L1 (DESIGN.md § Trust levels)."""
    rotate_session(request)
    clear_logins(request.session)
    request.session.update(
        unit_id=unit.id,
        unit_name=unit.org_name,
        auth_time=clock.timestamp(),
        amr=["pwd"],
        acr=TrustLevel.L1.acr,
        sid=tokens.token(16),
        idp="hrss",
    )


def start_federated_unit_session(request: Request, values: dict[str, Any]) -> None:
    """A provincial legal person's login for its unit (``values``: what
    :class:`~services.hrss_isso.federation.callback.UnitLogin` keeps)."""
    rotate_session(request)
    for key in PERSON_KEYS + ("act",):
        request.session.pop(key, None)
    request.session.update(values)
