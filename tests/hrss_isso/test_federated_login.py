"""The provincial login's decisions (services.hrss_isso.federation.callback),
called without HTTP: verified claims in, a typed outcome out."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.hrss_isso import messages as msg
from services.hrss_isso.federation import callback as fed
from services.hrss_isso.models import FederatedLogin, Person, ProvincialLink, Unit
from shared.trust import TrustLevel
from tests.hrss_isso.conftest import GDZWFW, Isso

L2 = "urn:gdzwfw:loa:L2"
YUEXIU = {"sub": "gd-legal-l2", "account_type": "legal_person", "uscc": "91440104MA5DL2B24P", "org_name": "广州市越秀区示范贸易有限公司"}
NEW_UNIT = {"sub": "gd-legal-new", "account_type": "legal_person", "uscc": "91440105MA5DLA00XW", "org_name": "广州市海珠区示范物流有限公司"}
CHENXIAO = {"sub": "gd-person-1", "account_type": "natural_person", "name": "陈晓", "id_number": "440106199007150041"}
STRANGER = {"sub": "gd-person-2", "account_type": "natural_person", "name": "周新", "id_number": "440106199001010011"}


def decide(isso: Isso, claims: dict, *, kind: str = "unit", person_id: str | None = None) -> fed.Outcome:
    state = isso.app.state
    return fed.federated_login(
        claims,
        kind=kind,
        id_token="upstream-id-token",
        person_id=person_id,
        upstream_issuer=state.rp.issuer,
        db=state.db,
        clock=state.clock,
        tokens=state.tokens,
        persons=state.isso.persons,
        hotline=state.isso.settings.hotline,
    )


def person_id(isso: Isso, login_name: str) -> str:
    with isso.db() as s:
        return s.execute(select(Person.id).where(Person.login_name == login_name)).scalar_one()


# -- 单位登录 ---------------------------------------------------------------------
def test_a_linked_legal_person_logs_in_for_its_unit(isso: Isso) -> None:
    outcome = decide(isso, {**YUEXIU, "acr": L2, "amr": ["pwd"], "sid": "up-1", "auth_time": 1700000000})
    assert isinstance(outcome, fed.UnitLogin)
    assert not outcome.first_login
    session = outcome.session
    assert session["idp"] == "gdzwfw" and session["acr"] == L2 and session["amr"] == ["pwd", "fed"]
    assert session["unit_name"] == YUEXIU["org_name"] and session["auth_time"] == 1700000000
    assert session["upstream"] == {
        "iss": GDZWFW,
        "sub": "gd-legal-l2",
        "acr": L2,
        "auth_time": 1700000000,
        "sid": "up-1",
        "id_token": "upstream-id-token",
    }
    assert "act" not in session
    with isso.db() as s:
        login = s.execute(select(FederatedLogin)).scalar_one()
        assert (login.unit_id, login.sid, login.upstream_sid, login.acr) == (session["unit_id"], session["sid"], "up-1", L2)
        assert s.execute(select(ProvincialLink.subject).where(ProvincialLink.uscc == YUEXIU["uscc"])).scalar_one() == "gd-legal-l2"


def test_a_handler_of_the_legal_person_is_kept_as_act(isso: Isso) -> None:
    outcome = decide(isso, {**YUEXIU, "acr": L2, "act": {"sub": "gd-person-1", "name": "陈晓"}})
    assert isinstance(outcome, fed.UnitLogin)
    assert outcome.session["act"] == {"sub": "gd-person-1", "name": "陈晓"}


@pytest.mark.parametrize("claims", [{**CHENXIAO, "acr": L2}, {**YUEXIU, "uscc": "", "acr": L2}])
def test_a_unit_login_needs_a_legal_person_with_a_uscc(isso: Isso, claims: dict) -> None:
    outcome = decide(isso, claims)
    assert isinstance(outcome, fed.Declined)
    assert (outcome.code, outcome.tab, outcome.keep_interaction, outcome.first_login) == ("not_legal_person", "unit", True, False)
    assert isso.count(FederatedLogin) == 0


@pytest.mark.parametrize("acr", ["urn:gdzwfw:loa:L1", None, "urn:unknown"])
def test_a_first_login_below_l2_creates_nothing(isso: Isso, acr: str | None) -> None:
    units = isso.count(Unit)
    outcome = decide(isso, {**NEW_UNIT, "acr": acr})
    assert isinstance(outcome, fed.LevelTooLow)
    assert outcome.first_login and outcome.org_name == NEW_UNIT["org_name"]
    assert outcome.level == TrustLevel.from_acr(acr) and (outcome.level is None or outcome.level < fed.INIT_LEVEL)
    assert (isso.count(Unit), isso.count(FederatedLogin)) == (units, 0)


def test_a_first_login_at_l2_waits_for_initialisation(isso: Isso) -> None:
    outcome = decide(isso, {**NEW_UNIT, "uscc": NEW_UNIT["uscc"].lower(), "acr": L2, "auth_time": 1700000000})
    assert isinstance(outcome, fed.UnitInitialisation) and outcome.first_login
    assert outcome.claims == {
        "iss": GDZWFW,
        "sub": "gd-legal-new",
        "uscc": NEW_UNIT["uscc"],
        "org_name": NEW_UNIT["org_name"],
        "acr": L2,
        "auth_time": 1700000000,
    }


def test_a_first_login_without_an_org_name_is_declined(isso: Isso) -> None:
    outcome = decide(isso, {**NEW_UNIT, "org_name": "", "acr": L2})
    assert isinstance(outcome, fed.Declined)
    assert (outcome.code, outcome.keep_interaction, outcome.first_login) == ("no_org_name", False, True)


def test_a_unit_registered_the_other_way_is_not_linked_by_uscc_alone(isso: Isso) -> None:
    with isso.db() as s:
        s.add(
            Unit(
                id=uuid.uuid4().hex,
                status="active",
                created_at=isso.clock.now(),
                unit_code="44010500009",
                uscc=NEW_UNIT["uscc"],
                org_name="海珠",
            )
        )
    outcome = decide(isso, {**NEW_UNIT, "acr": L2})
    assert isinstance(outcome, fed.UnitNotLinked) and outcome.first_login
    assert outcome.pending == {"iss": GDZWFW, "sub": "gd-legal-new", "uscc": NEW_UNIT["uscc"], "org_name": NEW_UNIT["org_name"]}
    assert isso.count(ProvincialLink, ProvincialLink.uscc == NEW_UNIT["uscc"]) == 0


# -- 个人登录 and 个人实名认证 ------------------------------------------------------------
def test_a_unit_account_is_not_a_personal_login(isso: Isso) -> None:
    outcome = decide(isso, {**YUEXIU, "acr": L2}, kind="personal")
    assert isinstance(outcome, fed.Declined) and (outcome.code, outcome.tab) == ("not_natural_person", "personal")


@pytest.mark.parametrize("missing", ["acr", "id_number", "name"])
def test_a_personal_login_needs_the_identity_claims(isso: Isso, missing: str) -> None:
    claims = {k: v for k, v in {**CHENXIAO, "acr": L2}.items() if k != missing}
    outcome = decide(isso, claims, kind="personal")
    assert isinstance(outcome, fed.Declined) and outcome.code == "no_identity_claims"


def test_an_unknown_person_is_offered_registration(isso: Isso) -> None:
    outcome = decide(isso, {**STRANGER, "id_number": STRANGER["id_number"].lower(), "acr": L2}, kind="personal")
    assert isinstance(outcome, fed.PersonToRegister)
    assert outcome.pending == {"iss": GDZWFW, "sub": "gd-person-2", "name": "周新", "id_number": STRANGER["id_number"], "acr": L2}


def test_an_account_not_linked_yet_is_not_taken_over(isso: Isso) -> None:
    assert isinstance(decide(isso, {**CHENXIAO, "acr": L2}, kind="personal"), fed.PersonExists)


def test_linking_needs_a_personal_login(isso: Isso) -> None:
    assert isinstance(decide(isso, {**CHENXIAO, "acr": L2}, kind="link"), fed.LinkNeedsLogin)


def test_a_linked_person_then_logs_in_through_the_province(isso: Isso) -> None:
    chenxiao = person_id(isso, "chenxiao")
    linked = decide(isso, {**CHENXIAO, "acr": L2}, kind="link", person_id=chenxiao)
    assert linked == fed.PersonLinked(notice=msg.REALNAME_DONE)
    outcome = decide(isso, {**CHENXIAO, "acr": L2, "amr": ["pwd"]}, kind="personal")
    assert isinstance(outcome, fed.PersonLogin)
    assert outcome.person.id == chenxiao and outcome.amr == ["pwd", "fed"]


def test_linking_someone_else_says_why_not(isso: Isso) -> None:
    outcome = decide(isso, {**STRANGER, "acr": L2}, kind="link", person_id=person_id(isso, "chenxiao"))
    assert isinstance(outcome, fed.PersonLinked) and outcome.notice != msg.REALNAME_DONE


def test_a_disabled_account_is_declined(isso: Isso) -> None:
    chenxiao = person_id(isso, "chenxiao")
    decide(isso, {**CHENXIAO, "acr": L2}, kind="link", person_id=chenxiao)
    with isso.db() as s:
        s.get(Person, chenxiao).status = "disabled"
    outcome = decide(isso, {**CHENXIAO, "acr": L2}, kind="personal")
    disabled = ("account_disabled", msg.ACCOUNT_DISABLED.format(hotline="12333"))
    assert isinstance(outcome, fed.Declined) and (outcome.code, outcome.message) == disabled
