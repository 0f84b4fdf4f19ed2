"""One 咨询电话 per service, from its ``hotline`` setting: the ISSO's pages
(panel, footer, the shared error page) never give gdzwfw_idp's 12345."""

from __future__ import annotations

from collections.abc import Callable

from tests.hrss_isso.conftest import Isso


def test_the_login_page_gives_one_number_the_isso_s(isso: Isso) -> None:
    page = isso.client.get("/isso/login")
    assert page.status_code == 200 and "12333" in page.text and "12345" not in page.text


def test_every_number_comes_from_the_setting(make_isso: Callable[..., Isso]) -> None:
    isso = make_isso(hotline="96110")
    login = isso.client.get("/isso/login")
    assert login.text.count("96110") == 2 and "12333" not in login.text  # the panel and the footer
    missing = isso.client.get("/isso/no-such-page")
    assert missing.status_code == 404 and "96110" in missing.text and "12345" not in missing.text
