"""One 咨询电话 per service, from its ``hotline`` setting: the ISSO's pages
(panel, footer, the shared error page) never give gdzwfw_idp's 12345."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from services.hrss_isso.demo import DEMO_STAFF_TOTP
from services.hrss_isso.models import Staff, Unit
from tests.hrss_isso.conftest import DEMO_PASSWORD, Isso
from tests.hrss_isso.flows import staff_code


def test_the_login_page_gives_one_number_the_isso_s(isso: Isso) -> None:
    page = isso.client.get("/isso/login")
    assert page.status_code == 200 and "12333" in page.text and "12345" not in page.text


def test_every_number_comes_from_the_setting(make_isso: Callable[..., Isso]) -> None:
    isso = make_isso(hotline="96110")
    login = isso.client.get("/isso/login")
    assert login.text.count("96110") == 2 and "12333" not in login.text  # the panel and the footer
    missing = isso.client.get("/isso/no-such-page")
    assert missing.status_code == 404 and "96110" in missing.text and "12345" not in missing.text


def test_a_stopped_account_is_told_the_configured_number(make_isso: Callable[..., Isso]) -> None:
    isso = make_isso(hotline="96110")
    with isso.db() as s:
        s.execute(update(Unit).where(Unit.login_name == "tianhe_keji").values(status="disabled"))
        s.execute(update(Staff).where(Staff.login_name == "staff_review").values(status="disabled"))
    unit = isso.login("tianhe_keji", tab="unit", browser=isso.new_browser())
    assert unit.status_code == 400 and "该账号已停用，如有疑问请拨打 96110 咨询" in unit.text and "12333" not in unit.text
    form = {"login_name": "staff_review", "password": DEMO_PASSWORD, "totp": staff_code(isso, DEMO_STAFF_TOTP["staff_review"])}
    staff = isso.post_form("/isso/staff/login", form, browser=isso.new_browser())
    assert staff.status_code == 400 and "该账号已停用，如有疑问请拨打 96110 咨询" in staff.text and "12333" not in staff.text
