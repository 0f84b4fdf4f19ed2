"""A stopped account is told gdzwfw_idp's own 咨询电话 (the ``hotline``
setting), on the password form and after a 微信扫码 (电子营业执照) login."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.gdzwfw_idp.models import Account
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import csrf
from tests.gdzwfw_idp.test_licence import L1, licence_login

STOPPED = "如有疑问请拨打 96120 咨询"


def stop(idp: Idp, login_name: str) -> None:
    with idp.app.state.db.transaction() as s:
        s.execute(update(Account).where(Account.login_name == login_name).values(status="disabled"))


def test_a_stopped_account_is_told_the_configured_number_at_password_login(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(hotline="96120")
    stop(idp, "demo_l2")
    browser = idp.new_browser()
    page = browser.get("/login?tab=legal&method=password")
    form = {"csrf_token": csrf(page.text), "interaction": "", "tab": "legal", "login_name": "demo_l2", "password": DEMO_PASSWORD}
    refused = browser.post("/login", data=form)
    assert refused.status_code == 400 and "该账号已停用，" + STOPPED in refused.text and "12345" not in refused.text


def test_a_stopped_unit_is_told_the_configured_number_after_a_licence_scan(make_idp: Callable[..., Idp], pki) -> None:
    idp = make_idp(hotline="96120", **pki.settings())
    stop(idp, "demo_l1")
    _, refused = licence_login(idp, pki, L1)
    assert refused.status_code == 400 and "该单位的账号已停用，" + STOPPED in refused.text and "12345" not in refused.text
