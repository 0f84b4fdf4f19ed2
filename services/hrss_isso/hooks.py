"""How hrss_isso plugs its units, handlers and federated sessions into the provider.

A browser session at the ISSO holds at most one login for a unit
(``unit_id``): a unit-account login (L1), a federated legal-person login
(the upstream level, passed through), or a handler's personal login acting
for a bound unit (``act``; L2 only while DESIGN.md's conditions hold, so the
level is recomputed from the records every time, never kept).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.hrss_isso.accounts.bindings import active_binding, handler_level
from services.hrss_isso.accounts.persons import get_person
from services.hrss_isso.accounts.units import federated_login_ended, get_unit
from services.hrss_isso.logout import upstream_logout_url
from shared.db_async import AsyncReads
from shared.oauth.client import RelyingParty
from shared.oauth.provider.errors import NotPrefetched
from shared.oauth.provider.models import Principal
from shared.randomness import TokenSource

__all__ = ["IssoHooks", "LOGIN_KEYS", "PERSON_KEYS", "handler_acr", "session_ended"]

LOGIN_KEYS = ("unit_id", "auth_time", "login_at", "amr", "acr", "sid", "idp", "upstream", "act")
# person_generation: the person's login generation when the personal login began.
PERSON_KEYS = ("person_id", "person_auth_time", "person_amr", "person_name", "unit_name", "person_generation")


def handler_acr(db: Session, *, unit_id: str, person_id: str) -> str | None:
    """The level a handler reaches for a unit now; None when not bound."""
    person = get_person(db, person_id=person_id)
    binding = active_binding(db, unit_id=unit_id, person_id=person_id)
    if person is None or person.status != "active" or binding is None:
        return None
    return handler_level(person, binding).acr


def session_ended(db: Session, session: dict[str, Any]) -> bool:
    """A login that ended away from this browser: a federated login that
    gdzwfw_idp ended over the back channel, or a personal login from before
    the person's password was reset."""
    return _federated_login_ended(db, session) or _personal_login_outdated(db, session)


def _federated_login_ended(db: Session, session: dict[str, Any]) -> bool:
    sid = session.get("sid")
    return session.get("idp") == "gdzwfw" and bool(sid) and federated_login_ended(db, sid=str(sid))


def _personal_login_outdated(db: Session, session: dict[str, Any]) -> bool:
    person_id = session.get("person_id")
    if not person_id:
        return False
    person = get_person(db, person_id=str(person_id))
    return person is not None and int(session.get("person_generation") or 0) != person.login_generation


class IssoHooks:
    # A unit's login and claims are the unit, the person acting and their
    # binding (and whether the upstream login was ended): read on the general path only.
    logins_on_loop = False
    claims_on_loop = False

    def __init__(self, *, issuer: str, upstream: RelyingParty, tokens: TokenSource) -> None:
        self.issuer = issuer
        # For single logout: a federated login is ended at gdzwfw_idp too.
        self._upstream = upstream
        self._tokens = tokens

    def holds_login(self, session: dict[str, Any]) -> bool:
        return bool(session.get("unit_id"))

    async def asession_principal(self, reads: AsyncReads, session: dict[str, Any]) -> Principal | None:
        # A unit's login here is the unit, the person acting and their binding,
        # and whether the upstream login was ended: the general path reads them.
        raise NotPrefetched("hrss_isso login")

    def session_principal(self, db: Session, session: dict[str, Any]) -> Principal | None:
        unit_id = session.get("unit_id")
        if not unit_id:
            return None
        if session_ended(db, session):
            # Ended over the back channel (single logout from gdzwfw_idp).
            return None
        context = {k: session[k] for k in ("sid", "idp", "upstream", "act") if session.get(k)}
        claims = self.profile_claims(db, subject=unit_id, context=context)
        if claims is None:
            return None
        acr = session.get("acr")
        act = context.get("act")
        if context.get("idp") == "hrss" and isinstance(act, dict):
            acr = handler_acr(db, unit_id=unit_id, person_id=act.get("sub", ""))
        return Principal(
            sub=unit_id,
            claims=claims,
            # Federated: the level reached upstream, passed through and never raised.
            acr=acr,
            amr=list(session.get("amr") or []),
            auth_time=int(session.get("auth_time") or 0),
            logged_in_at=session.get("login_at"),
            context=context,
        )

    async def aprofile_claims(self, reads: AsyncReads, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        raise NotPrefetched("hrss_isso claims")  # unit, person and binding: the general path

    def profile_claims(self, db: Session, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        unit = get_unit(db, unit_id=subject)
        if unit is None or unit.status != "active":
            return None
        act = context.get("act")
        # A handler's tokens end with the binding (or the account).
        if (
            context.get("idp") == "hrss"
            and isinstance(act, dict)
            and handler_acr(db, unit_id=subject, person_id=act.get("sub", "")) is None
        ):
            return None
        claims = {"org_name": unit.org_name, "uscc": unit.uscc, "unit_code": unit.unit_code, "idp": context.get("idp", "hrss")}
        # A unit registered with its 组织机构代码 has no USCC: the claim is left out, not null.
        return {k: v for k, v in claims.items() if v is not None}

    def login_url(self, interaction_id: str) -> str:
        return f"{self.issuer}/login?interaction={interaction_id}"

    def upgrade_url(self, principal: Principal, required_acr: str, interaction_id: str) -> str | None:
        if principal.context.get("idp") == "gdzwfw":
            return self.step_up_url(principal, interaction_id)
        # Every page of the detour keeps the waiting request (the interaction):
        # it shows 「您正在登录…」 and comes back to the client at the end.
        if principal.context.get("act"):
            return f"{self.issuer}/realname?interaction={interaction_id}"
        # A unit account (单位登录 → 账号密码) is L1 by nature; the simplest
        # route is the seed's: 省统一身份认证 with a 法人 account at 四级 or above.
        return f"{self.issuer}/login?tab=unit&method=gdzwfw&interaction={interaction_id}"

    def step_up_url(self, principal: Principal, interaction_id: str) -> str | None:
        """A provincial legal person's level lives at gdzwfw_idp: the parked
        request goes back upstream with its level requirement, where
        gdzwfw_idp offers 实名核验 and then returns here."""
        if principal.context.get("idp") == "gdzwfw" and not principal.context.get("act"):
            return f"{self.issuer}/federation/gdzwfw/start?interaction={interaction_id}"
        return None

    def end_session(self, db: Session, session: dict[str, Any]) -> None:
        for key in LOGIN_KEYS + PERSON_KEYS:
            session.pop(key, None)

    async def continue_logout(self, session: dict[str, Any], ended: dict[str, Any], destination: str | None) -> str | None:
        return await upstream_logout_url(
            self._upstream, self._tokens, issuer=self.issuer, session=session, ended=ended, destination=destination
        )
