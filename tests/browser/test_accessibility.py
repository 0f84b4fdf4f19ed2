"""axe-core (WCAG 2.0/2.1 A and AA) on the main pages of the three services,
each at 1280px and 390px: every test walks a journey, audits each page on the
way and fails with every violation it met (rule, impact, element, help).

Reports also go to ``test-artifacts/axe/<test>.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from tests.browser.axe import AXE_JS, AxeAudit, run_axe
from tests.browser.test_login_chain import open_gdzwfw_login, submit_password
from tests.browser.test_refund_confirmation import staff_login

pytestmark = pytest.mark.browser

ISSO_PASSWORD = "Hrss@demo2026"


@pytest.fixture
def audit(request: pytest.FixtureRequest, shot) -> Iterator[AxeAudit]:
    """Audits a page and screenshots it at both widths: colour and focus fixes
    are judged by eye too, since axe passes a page that merely looks broken."""
    audit = AxeAudit(request.node.name, shot=shot)
    yield audit
    audit.save()
    assert audit.audited, "the test audited no page"
    assert not audit.found, audit.report()


def test_axe_runs_under_the_pages_csp_and_reports_a_broken_page(page: Page, chain) -> None:
    """The checker itself: injected despite ``script-src 'self'``, and it does
    see a violation when one is there (an image without a text alternative)."""
    page.goto(f"{chain.idp}/login")
    # Why axe.py evaluates the file: the inline <script> add_script_tag writes is refused by the CSP.
    with pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(path=AXE_JS)
    assert page.evaluate("() => typeof window.axe") == "undefined"
    assert run_axe(page) is not None
    page.evaluate("() => document.querySelector('main').append(document.createElement('img'))")
    assert "image-alt" in {v["id"] for v in run_axe(page)}


def test_gdzwfw_login_chain_and_refund_pages(page: Page, chain, audit: AxeAudit) -> None:
    """Portal landing → ISSO login → gdzwfw_idp 个人/法人登录 and 账号密码, a
    refused password, then the portal's record page and its confirmation."""
    page.goto(f"{chain.portal}/")
    audit(page, "portal_landing")
    page.locator("#login").click()
    expect(page.get_by_text("您正在登录：失业保险稳岗返还")).to_be_visible()
    audit(page, "isso_login_unit_gdzwfw")
    page.locator("#gdzwfw-login").click()
    expect(page.locator("nav.tabs").get_by_role("link", name="个人登录", exact=True)).to_be_visible()
    audit(page, "idp_login_default")
    page.locator("nav.tabs").get_by_role("link", name="个人登录", exact=True).click()
    audit(page, "idp_login_personal")
    page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True).click()
    page.get_by_role("tab", name="账号密码", exact=True).click()
    expect(page.get_by_label("法人登录账号")).to_be_visible()
    audit(page, "idp_login_legal_password")
    submit_password(page, "demo_l2", "wrong-password")
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "idp_login_refused")

    submit_password(page, "demo_l2", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    audit(page, "portal_records")
    page.locator("section.refund[data-status='pending']").get_by_role("link", name="确认返还信息").click()
    expect(page.get_by_role("heading", name="确认稳岗返还信息")).to_be_visible()
    audit(page, "portal_confirm")

    page.goto(f"{chain.portal}/refunds/no-such-record/decide")
    audit(page, "portal_error")


def test_gdzwfw_registration_and_verification(page: Page, chain, audit: AxeAudit) -> None:
    """法人注册 step 1 empty and refused, then 实名核验 for a 三级 account."""
    page.goto(f"{chain.idp}/register/legal")
    expect(page.get_by_role("heading", name="法人注册")).to_be_visible()
    audit(page, "idp_register_legal")
    # The server's own checks, not the browser's: switch off constraint validation and send it half filled.
    page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    page.get_by_label("法人登录账号").fill("ab")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".field-error, .alert-error").first).to_be_visible()
    audit(page, "idp_register_legal_errors")

    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l1", DEMO_PASSWORD)
    page.goto(f"{chain.idp}/account")
    audit(page, "idp_account")
    page.goto(f"{chain.idp}/account/verification")
    expect(page.get_by_role("heading", name="实名核验")).to_be_visible()
    audit(page, "idp_verification")
    page.goto(f"{chain.idp}/no-such-page")
    audit(page, "idp_not_found")


def test_hrss_isso_pages(page: Page, chain, audit: AxeAudit) -> None:
    """广东人社统一认证: its login tabs, registration ways, a refused login,
    then a person's unit choice, 实名认证 and 账户管理."""
    isso = f"{chain.isso}/isso"
    for tab, method in (("unit", "password"), ("personal", "password"), ("personal", "sms")):
        page.goto(f"{isso}/login?tab={tab}&method={method}")
        audit(page, f"isso_login_{tab}_{method}")
    for path in ("register", "register/unit", "forgot-password"):
        page.goto(f"{isso}/{path}")
        audit(page, f"isso_{path.replace('/', '_')}")

    page.goto(f"{isso}/login?tab=personal&method=password")
    page.fill("#login_name", "chenxiao")
    page.fill("#password", "wrong-password")
    page.locator("form button[type=submit]").first.click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "isso_login_refused")
    page.fill("#password", ISSO_PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{isso}/login/units")
    audit(page, "isso_select_unit")
    for path in ("realname", "account"):
        page.goto(f"{isso}/{path}")
        audit(page, f"isso_{path}")


def test_agency_console(page: Page, chain, audit: AxeAudit) -> None:
    """The agency console: login, overview, records, a record, imports, payments, audit log."""
    page.goto(f"{chain.portal}/agency/login")
    audit(page, "agency_login")
    staff_login(page, chain, "wg_supervisor")
    audit(page, "agency_overview")
    page.goto(f"{chain.portal}/agency/records")
    audit(page, "agency_records")
    page.locator("table a").first.click()
    audit(page, "agency_record")
    for path in ("imports", "payments", "audit"):
        page.goto(f"{chain.portal}/agency/{path}")
        audit(page, f"agency_{path}")


def test_skip_link_is_the_first_stop_and_lands_in_main(page: Page, chain) -> None:
    """axe does not press keys: the first Tab reaches 跳到主要内容, shown on
    screen, and following it puts keyboard focus in ``<main id="main">``."""
    page.goto(f"{chain.idp}/register/legal")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab goes on inside the page's content, past the header.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")


def test_navigation_marks_the_current_page_and_errors_are_tied_to_their_inputs(page: Page, chain) -> None:
    page.goto(f"{chain.idp}/login?tab=legal")
    expect(page.locator("nav.tabs a[aria-current='page']")).to_have_text("法人登录")
    page.goto(f"{chain.idp}/register/legal")
    expect(page.locator("nav a[aria-current='page']")).to_have_text("法人注册")
    page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    page.get_by_label("法人登录账号").fill("ab")
    page.locator("form button[type=submit]").last.click()
    login_name = page.get_by_label("法人登录账号")
    expect(login_name).to_have_attribute("aria-invalid", "true")
    expect(login_name).to_have_accessible_description(re.compile("请输入6-20位字符"))
    expect(page.locator("#login_name-error")).to_have_attribute("role", "alert")
    # Controls outside the field() macro: the region selects and the agreement box.
    expect(page.get_by_label("市", exact=True)).to_have_accessible_description(re.compile("请选择证件地址"))
    expect(page.locator("input[name=agree]")).to_have_accessible_description(re.compile("请阅读并同意"))

    staff_login(page, chain, "wg_clerk")
    page.get_by_role("navigation", name="管理功能").get_by_role("link", name="返还记录").click()
    expect(page.locator(".agency-nav a[aria-current='page']")).to_have_text("返还记录")
    expect(page.locator(".agency-nav a[aria-current]")).to_have_count(1)
