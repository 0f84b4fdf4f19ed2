"""关怀版 (large print) in the browser: the switch in every page's header,
remembered in a cookie from page to page and from service to service (one
host in the test stack, as in development), undone by 标准版; text of at least
18px, targets of at least 48px, no axe violation in that mode either.
Screenshots of the main pages in both modes go to test-artifacts/screenshots."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from tests.browser.axe import AxeAudit
from tests.browser.test_accessibility import audit  # noqa: F401 (the fixture)
from tests.browser.test_login_chain import open_gdzwfw_login, submit_password

pytestmark = pytest.mark.browser

SIZES = """() => {
  const px = el => parseFloat(getComputedStyle(el).fontSize);
  const texts = Array.from(document.querySelectorAll("main p, main label, main td, main dd, main li")).filter(el => el.checkVisibility());
  const targets = Array.from(document.querySelectorAll("main .btn, main input:not([type=checkbox]):not([type=radio]), main select"))
    .filter(el => el.checkVisibility());
  return {
    body: px(document.body),
    smallestText: Math.min(...texts.map(px)),
    lowestTarget: Math.min(...targets.map(el => el.getBoundingClientRect().height)),
  };
}"""


def in_care_mode(page: Page) -> bool:
    return page.evaluate("() => document.body.classList.contains('care')")


def test_the_care_switch_is_remembered_across_pages_and_services(page: Page, chain, shot, audit: AxeAudit) -> None:  # noqa: F811
    pages = {
        "portal_landing": f"{chain.portal}/",
        "isso_login": f"{chain.isso}/isso/login?tab=personal&method=password",
        "idp_login": f"{chain.idp}/login?tab=legal&method=password",
        "idp_register": f"{chain.idp}/register/legal",
        "agency_login": f"{chain.portal}/agency/login",
    }
    standard = {}
    for name, url in pages.items():
        page.goto(url)
        assert not in_care_mode(page)
        standard[name] = page.evaluate(SIZES)
        shot(page, f"standard_{name}")

    page.goto(pages["portal_landing"])
    page.get_by_role("link", name="关怀版").click()
    # Back on the same page, now in large print, with the way back to 标准版.
    expect(page).to_have_url(pages["portal_landing"])
    expect(page.locator("body")).to_have_class(re.compile(r"\bcare\b"))
    expect(page.locator("#care-switch")).to_have_text("标准版")

    for name, url in pages.items():
        page.goto(url)
        assert in_care_mode(page), f"{name} forgot 关怀版"
        sizes = page.evaluate(SIZES)
        assert sizes["body"] >= 18, (name, sizes)
        assert sizes["smallestText"] >= 15, (name, sizes)
        assert sizes["smallestText"] > standard[name]["smallestText"], (name, sizes, standard[name])
        assert sizes["lowestTarget"] >= 48, (name, sizes)
        audit(page, f"care_{name}")

    # A unit's record page in 关怀版: the journey's pages all keep it.
    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l2", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    assert in_care_mode(page)
    audit(page, "care_portal_records")

    page.get_by_role("link", name="标准版").click()
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    assert not in_care_mode(page)
    page.goto(pages["idp_login"])
    assert not in_care_mode(page)
    shot(page, "standard_idp_login_after_switching_back")


def test_the_switch_returns_only_to_a_page_of_the_same_site(chain) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = httpx.get(f"{chain.idp}/care-mode", params={"on": "1", "next": target})
        assert response.status_code == 303
        assert response.headers["location"] == "/", target
        assert "care_mode=1" in response.headers["set-cookie"]
    response = httpx.get(f"{chain.isso}/care-mode", params={"on": "0", "next": "/isso/login?tab=unit"})
    assert response.headers["location"] == "/isso/login?tab=unit"
    assert 'care_mode=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
