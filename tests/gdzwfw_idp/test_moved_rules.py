"""Decisions moved out of the handlers into service modules, tested directly."""

from __future__ import annotations

from functools import partial

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.gdzwfw_idp.handlers.relations import act_for
from services.gdzwfw_idp.login.password_login import password_login
from services.gdzwfw_idp.qr.codes import masked_person, session_data
from services.gdzwfw_idp.verification.hall import document_errors
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row


def test_hall_check_needs_the_licence_and_an_identity() -> None:
    assert document_errors([]) == {"documents": "须核验营业执照（登记证书）原件"}
    assert "documents" in document_errors(["licence"])
    assert "documents" in document_errors(["licence", "handler_id"])
    assert document_errors(["licence", "rep_id"]) == {}
    assert document_errors(["licence", "handler_id", "authorisation"]) == {}


def test_what_a_qr_session_carries() -> None:
    assert session_data({}, kind="face", purpose="", interaction="") == {"purpose": "register"}
    assert session_data({}, kind="licence", purpose="login", interaction="i1") == {"purpose": "login", "interaction": "i1"}
    assert session_data({}, kind="licence", purpose="verify", interaction="") is None
    assert session_data({"account_id": "a1"}, kind="licence", purpose="verify", interaction="") == {"purpose": "verify", "account_id": "a1"}
    # A handler acting for the unit may not verify it.
    assert session_data({"account_id": "a1", "act": {"sub": "p"}}, kind="licence", purpose="verify", interaction="") is None
    assert session_data({}, kind="other", purpose="login", interaction="") is None
    assert masked_person("陈晓", "440106199001011234").startswith("陈*（")


def test_password_login_takes_the_account_type_from_the_tab(idp: Idp) -> None:
    parts = idp.app.state.idp

    def attempt(login_name: str, *, tab: str, as_handler: bool = False):
        given = {"login_name": login_name, "password": DEMO_PASSWORD, "address": "198.51.100.7", "hotline": "12345"}
        # In the app's own loop, where its connections live.
        return idp.client.portal.call(partial(password_login, parts.login_service, parts.db, tab=tab, as_handler=as_handler, **given))

    assert attempt("demo_l2", tab="legal").account is not None
    assert "个人登录" in (attempt("demo_person", tab="legal").error or "")
    assert attempt("demo_person", tab="legal", as_handler=True).account is not None
    assert attempt("demo_person", tab="personal").account is not None


def test_only_a_handler_may_act_for_a_unit(idp: Idp) -> None:
    db = idp.app.state.idp.db
    person, unit, other = (account_row(idp, login_name=n) for n in ("demo_person", "demo_l2", "demo_l3"))
    assert act_for(db, person_id=person.id, legal_person_id=unit.id) == {"sub": person.id, "name": person.person_name}
    assert act_for(db, person_id=person.id, legal_person_id=other.id) is None
    assert act_for(db, person_id=unit.id, legal_person_id=unit.id) is None
