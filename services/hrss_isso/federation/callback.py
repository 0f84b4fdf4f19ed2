"""What a login through 广东省统一身份认证 comes to, once gdzwfw_idp's ID
token has been checked (the seed's part 一 (三), and 个人登录 through the
province in part 二).

:func:`federated_login` takes the verified claims and decides; it reads and
writes the database but knows nothing of HTTP. The route turns the typed
outcome it returns into a session, a page or a redirect
(:mod:`.routes`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.persons import PersonalAccounts, ProvincialPerson, find_by_id_number, get_person
from services.hrss_isso.accounts.units import find_unit_for_provincial, record_federated_login, unit_with_uscc
from services.hrss_isso.models import Person
from shared.clock import Clock
from shared.db import Database
from shared.randomness import TokenSource
from shared.trust import TrustLevel

__all__ = [
    "INIT_LEVEL",
    "INIT_KEY",
    "INIT_DONE_KEY",
    "LINK_PENDING_KEY",
    "PROVINCIAL_PERSON_KEY",
    "Outcome",
    "Declined",
    "UnitLogin",
    "LevelTooLow",
    "UnitNotLinked",
    "UnitInitialisation",
    "LinkNeedsLogin",
    "PersonLinked",
    "PersonExists",
    "PersonToRegister",
    "PersonLogin",
    "federated_login",
]

log = logging.getLogger("isso.login")
INIT_LEVEL = TrustLevel.L2  # the provincial level 登录初始化 needs
# 登录初始化 (part 一 (三)): the callback keeps the verified provincial claims here.
INIT_KEY = "fed_init"
INIT_DONE_KEY = "fed_init_done"
# A unit registered the other way: the claims wait for a handler's confirmation.
LINK_PENDING_KEY = "fed_link_pending"
# Way 2 of 个人注册: a provincial person's claims wait for a mobile number and a password.
PROVINCIAL_PERSON_KEY = "fed_person"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    # A first login of a legal person no unit is linked to: what an earlier
    # 登录初始化 left in the session is dropped before this one is shown.
    first_login: bool = False


@dataclass(frozen=True, kw_only=True)
class Declined(Outcome):
    """Not a login this way: a page that says why, with a way back to ``tab``."""

    message: str
    code: str
    tab: str = "unit"
    keep_interaction: bool = True


@dataclass(frozen=True, kw_only=True)
class UnitLogin(Outcome):
    """A provincial legal person linked to a unit: logged in for it, with
    what the login keeps in the session (``unit_id``, ``acr``, ``upstream``…)."""

    session: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LevelTooLow(Outcome):
    """登录初始化 needs :data:`INIT_LEVEL`; the province vouched for less."""

    org_name: str
    level: TrustLevel | None
    first_login: bool = True


@dataclass(frozen=True, kw_only=True)
class UnitNotLinked(Outcome):
    """A unit with this USCC was registered the other way: linked only when
    one of its handlers confirms (``pending`` waits in the session)."""

    org_name: str
    uscc: str
    level: TrustLevel | None
    pending: dict[str, str]
    first_login: bool = True


@dataclass(frozen=True, kw_only=True)
class UnitInitialisation(Outcome):
    """No such unit yet: 单位注册 from the verified claims (kept in the session)."""

    claims: dict[str, Any]
    first_login: bool = True


@dataclass(frozen=True, kw_only=True)
class LinkNeedsLogin(Outcome):
    """个人实名认证 through the province, but no personal login to link it to."""


@dataclass(frozen=True, kw_only=True)
class PersonLinked(Outcome):
    """The logged-in person's account was linked to the provincial one, or
    ``notice`` says why not."""

    notice: str


@dataclass(frozen=True, kw_only=True)
class PersonExists(Outcome):
    """An account with this ID number exists but is not linked: it logs in
    with its password first (never taken over by a provincial login alone)."""


@dataclass(frozen=True, kw_only=True)
class PersonToRegister(Outcome):
    """No account yet: way 2 of 个人注册 (``pending`` waits in the session)."""

    pending: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PersonLogin(Outcome):
    """A personal login of a linked account."""

    person: Person
    amr: list[str] = field(default_factory=list)


def federated_login(
    claims: dict[str, Any],
    *,
    kind: str,
    id_token: str | None,
    person_id: str | None,
    upstream_issuer: str,
    db: Database,
    clock: Clock,
    tokens: TokenSource,
    persons: PersonalAccounts,
    hotline: str,
) -> Outcome:
    """``kind``: ``unit`` (单位登录), ``personal`` (个人登录) or ``link``
    (个人实名认证 of the logged-in ``person_id``); ``hotline``: the number a
    stopped account is told to call."""
    if kind in ("personal", "link"):
        return _personal(claims, kind=kind, person_id=person_id, upstream_issuer=upstream_issuer, db=db, persons=persons, hotline=hotline)
    return _unit(claims, id_token=id_token, upstream_issuer=upstream_issuer, db=db, clock=clock, tokens=tokens)


def _unit(
    claims: dict[str, Any], *, id_token: str | None, upstream_issuer: str, db: Database, clock: Clock, tokens: TokenSource
) -> Outcome:
    if claims.get("account_type") != "legal_person" or not claims.get("uscc"):
        return Declined(message="单位登录请在广东省统一身份认证平台选择“法人登录”，使用单位的法人账号登录。", code="not_legal_person")
    level = TrustLevel.from_acr(claims.get("acr"))
    acr = level.acr if level else None  # an unknown acr is no level at all
    sid = tokens.token(16)
    # Single logout: gdzwfw_idp's back-channel notice names its sid.
    upstream_sid = str(claims["sid"])[:128] if claims.get("sid") else None
    auth_time = int(claims.get("auth_time") or clock.timestamp())
    with db.transaction() as s:
        unit = find_unit_for_provincial(s, issuer=upstream_issuer, subject=claims["sub"], uscc=claims["uscc"], now=clock.now())
        if unit is not None:
            record_federated_login(
                s,
                unit=unit,
                issuer=upstream_issuer,
                subject=claims["sub"],
                acr=acr,
                auth_time=auth_time,
                sid=sid,
                now=clock.now(),
                upstream_sid=upstream_sid,
            )
            found = unit.id, unit.org_name
        else:
            found = None
    if found is None:
        return _first_login(claims, acr=acr, auth_time=auth_time, level=level, upstream_issuer=upstream_issuer, db=db)
    session: dict[str, Any] = {
        "unit_id": found[0],
        "unit_name": found[1],
        "auth_time": auth_time,
        "login_at": clock.timestamp(),
        "amr": list(claims.get("amr") or []) + ["fed"],
        "acr": acr,
        "sid": sid,
        "idp": "gdzwfw",
        "upstream": {
            "iss": upstream_issuer,
            "sub": claims["sub"],
            "acr": claims.get("acr"),
            "auth_time": auth_time,
            "sid": claims.get("sid"),
            "id_token": id_token,
        },
    }
    if isinstance(claims.get("act"), dict):
        session["act"] = claims["act"]
    log.info("federated login", extra={"fields": {"acr": acr}})
    return UnitLogin(session=session)


def _first_login(
    claims: dict[str, Any], *, acr: str | None, auth_time: int, level: TrustLevel | None, upstream_issuer: str, db: Database
) -> Outcome:
    """登录初始化 (part 一 (三) (2)): no unit linked to this provincial
    legal person. A unit with its USCC registered the other way is not
    linked by USCC alone; otherwise the verified claims wait in the
    server-side session for 单位注册 at /isso/init."""
    uscc = str(claims["uscc"]).upper()[:18]
    org_name = str(claims.get("org_name") or "")[:100]
    if level is None or level < INIT_LEVEL:
        # A unit is created (or linked) from the provincial claims only
        # when the province vouches for them by certificate, licence or
        # in person (seed 一 (三) (5): 初始化 and 四级（L2）或以上 let the
        # unit straight in). 三级 rests on what someone knows of the unit.
        log.info("provincial legal person below L2 at first login", extra={"fields": {"acr": acr}})
        return LevelTooLow(org_name=org_name, level=level)
    with db.transaction() as s:
        registered = unit_with_uscc(s, uscc=uscc) is not None
    if registered:
        log.info("provincial legal person's unit registered but not linked", extra={"fields": {"uscc": uscc}})
        pending = {"iss": upstream_issuer, "sub": str(claims["sub"]), "uscc": uscc, "org_name": org_name}
        return UnitNotLinked(org_name=org_name, uscc=uscc, level=level, pending=pending)
    if not org_name:
        message = "广东省统一身份认证平台未提供单位名称，暂无法完成登录初始化，请稍后再试。"
        return Declined(message=message, code="no_org_name", keep_interaction=False, first_login=True)
    log.info("provincial legal person not linked: initialisation", extra={"fields": {"uscc": uscc}})
    return UnitInitialisation(
        claims={"iss": upstream_issuer, "sub": str(claims["sub"]), "uscc": uscc, "org_name": org_name, "acr": acr, "auth_time": auth_time}
    )


def _personal(
    claims: dict[str, Any], *, kind: str, person_id: str | None, upstream_issuer: str, db: Database, persons: PersonalAccounts, hotline: str
) -> Outcome:
    """个人登录 → 省统一身份认证: a natural person vouched for by the province."""
    if claims.get("account_type") != "natural_person":
        message = "个人登录请在广东省统一身份认证平台选择“个人登录”，使用您本人的个人账号登录。"
        return Declined(message=message, code="not_natural_person", tab="personal")
    level = TrustLevel.from_acr(claims.get("acr"))
    id_number = str(claims.get("id_number") or "").upper()
    name = str(claims.get("name") or "")
    if level is None or not id_number or not name:
        log.warning("provincial person without identity claims", extra={"fields": {"has_id": bool(id_number), "acr": claims.get("acr")}})
        message = "广东省统一身份认证平台未提供您的实名身份信息，暂无法通过此方式登录或注册，请使用账号密码登录。"
        return Declined(message=message, code="no_identity_claims", tab="personal")
    provincial = ProvincialPerson(issuer=upstream_issuer, subject=str(claims["sub"]), name=name, id_number=id_number, acr=level.acr)
    if kind == "link":
        if not person_id:
            return LinkNeedsLogin()
        problem = persons.link_provincial(person_id=person_id, provincial=provincial)
        return PersonLinked(notice=problem or msg.REALNAME_DONE)
    outcome = persons.provincial_login(provincial)
    if outcome is None:
        with db.transaction() as s:
            registered = find_by_id_number(s, id_number=id_number) is not None
        if registered:
            return PersonExists()
        pending = {"iss": provincial.issuer, "sub": provincial.subject, "name": name, "id_number": id_number, "acr": provincial.acr}
        return PersonToRegister(pending=pending)
    if outcome[1] == "disabled":
        return Declined(message=msg.ACCOUNT_DISABLED.format(hotline=hotline), code="account_disabled", tab="personal")
    with db.transaction() as s:
        person = get_person(s, person_id=outcome[0])
        s.expunge(person)
    log.info("personal federated login", extra={"fields": {"outcome": outcome[1]}})
    return PersonLogin(person=person, amr=list(claims.get("amr") or []) + ["fed"])
