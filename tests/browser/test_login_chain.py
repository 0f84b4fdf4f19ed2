"""An employer's way in, in a real browser: 失业保险稳岗返还 → 广东人社统一认证
(单位登录 / 省统一身份认证) → 广东省统一身份认证平台 (法人登录 / 账号密码) and back.

The seed's part 一 (三): only an account at 四级（原L2） or above reaches the
稳岗返还信息确认 page; a 三级（原L1） account is told how to upgrade.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from services.gdzwfw_idp.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

DEMO_ORG = "广州市越秀区示范贸易有限公司"
DEMO_USCC = "91440104MA5DL2B24P"


def _url_re(base: str, path: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(base + path)}(?:[?#].*)?$")


def open_gdzwfw_login(page: Page, chain, shot=None) -> None:
    """Portal landing → 单位登录 → ISSO login (单位登录 / 省统一身份认证) →
    省统一身份认证登录 → gdzwfw_idp 法人登录 / 账号密码."""
    page.goto(f"{chain.portal}/")
    expect(page.get_by_role("heading", name="失业保险稳岗返还信息确认")).to_be_visible()
    if shot:
        shot(page, "01_portal_landing")

    page.locator("#login").click()
    expect(page).to_have_url(_url_re(chain.isso, "/isso/login"))
    tabs = page.locator("nav.tabs")
    expect(tabs.get_by_role("link", name="单位登录", exact=True)).to_have_class(re.compile(r"\bactive\b"))
    expect(page.get_by_role("tab", name="省统一身份认证", exact=True)).to_have_class(re.compile(r"\bactive\b"))
    expect(page.get_by_text("您正在登录：失业保险稳岗返还")).to_be_visible()
    if shot:
        shot(page, "02_isso_login_unit_gdzwfw")

    page.locator("#gdzwfw-login").click()
    expect(page).to_have_url(_url_re(chain.idp, "/login"))
    expect(page.locator("nav.tabs").get_by_role("link", name="个人登录", exact=True)).to_be_visible()
    expect(page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True)).to_be_visible()
    if shot:
        shot(page, "03_gdzwfw_login")

    page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True).click()
    expect(page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True)).to_have_class(re.compile(r"\bactive\b"))
    page.get_by_role("tab", name="账号密码", exact=True).click()
    expect(page.get_by_role("tab", name="账号密码", exact=True)).to_have_class(re.compile(r"\bactive\b"))
    expect(page.get_by_label("法人登录账号")).to_be_visible()
    # The login still belongs to the portal's request after switching tabs.
    expect(page.get_by_text("您正在登录：广东人社统一认证")).to_be_visible()


def submit_password(page: Page, login_name: str, password: str) -> None:
    page.get_by_label("法人登录账号").fill(login_name)
    page.get_by_label("登录密码").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()


def test_l2_unit_reaches_refund_confirmation(page: Page, chain, shot) -> None:
    open_gdzwfw_login(page, chain, shot)
    page.get_by_label("法人登录账号").fill("demo_l2")
    page.get_by_label("登录密码").fill(DEMO_PASSWORD)
    shot(page, "04_gdzwfw_legal_password_filled")
    page.get_by_role("button", name="登录", exact=True).click()

    expect(page).to_have_url(_url_re(chain.portal, "/"))
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    expect(page.locator("#org-name")).to_have_text(DEMO_ORG)
    expect(page.locator("#uscc")).to_have_text(DEMO_USCC)
    expect(page.get_by_text("四级（原L2）")).to_be_visible()
    shot(page, "05_portal_confirm")

    # The same browser is now signed in at 广东人社统一认证 too.
    page.goto(f"{chain.isso}/isso/")
    details = page.locator("main dl.kv")
    expect(details.get_by_text(DEMO_ORG, exact=True)).to_be_visible()
    expect(details.get_by_text(DEMO_USCC, exact=True)).to_be_visible()
    expect(details.get_by_text("省统一身份认证", exact=True)).to_be_visible()
    shot(page, "06_isso_home")


def test_l1_unit_is_told_to_upgrade(page: Page, chain, shot) -> None:
    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l1", DEMO_PASSWORD)

    expect(page).to_have_url(_url_re(chain.portal, "/"))
    expect(page.get_by_role("heading", name="账号可信等级不足")).to_be_visible()
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_have_count(0)
    expect(page.locator("#org-name")).to_have_count(0)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("四级（原L2）")
    expect(alert).to_contain_text("三级（原L1）")
    upgrade = page.locator("#upgrade")
    expect(upgrade).to_have_text("前往实名核验")
    shot(page, "01_portal_level_required")

    # A new authorization request requiring L2: the ISSO sends it on to the
    # province (still signed in there), which offers the upgrade for it.
    upgrade.click()
    expect(page).to_have_url(_url_re(chain.idp, "/authorize"))
    expect(page.get_by_role("heading", name="账号可信等级不足")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("广东人社统一认证")
    shot(page, "02_gdzwfw_level_required")
    page.get_by_role("link", name="去实名核验升级").click()
    expect(page).to_have_url(_url_re(chain.idp, "/account/verification"))
    expect(page.get_by_role("heading", name="实名核验")).to_be_visible()
    expect(page.locator(".continue-box")).to_contain_text("您正在登录“广东人社统一认证”")
    expect(page.locator("main")).to_contain_text("您的账号当前可信等级为：三级（原L1）")
    expect(page.get_by_role("heading", name="四级（原L2）核验")).to_be_visible()
    shot(page, "03_gdzwfw_verification")

    page.locator("nav.side-nav").get_by_role("link", name="账号基本信息").click()
    expect(page).to_have_url(_url_re(chain.idp, "/account"))
    expect(page.get_by_role("heading", name="账号基本信息")).to_be_visible()
    # The legal representative's ID number never shows unmasked (DESIGN.md).
    rep_id = page.locator("dt", has_text="法定代表人证件").locator("xpath=following-sibling::dd[1]")
    expect(rep_id).to_have_text(re.compile(r"^身份证 \d{4}\*+[\dX]{4}$"))
    shot(page, "04_gdzwfw_account")


def test_wrong_password_shows_error_next_to_form(page: Page, chain, shot) -> None:
    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l2", "Wrong@pass2026")

    expect(page).to_have_url(_url_re(chain.idp, "/login"))
    panel = page.locator("section.panel", has=page.locator("form"))
    error = panel.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_contain_text("账号或密码错误")
    # Next to the form: right above the account field, inside the login box.
    error_box = error.bounding_box()
    field_box = page.get_by_label("法人登录账号").bounding_box()
    assert error_box and field_box
    assert 0 <= field_box["y"] - (error_box["y"] + error_box["height"]) < 80, (error_box, field_box)
    expect(page.get_by_label("法人登录账号")).to_have_value("demo_l2")
    expect(page.get_by_label("登录密码")).to_have_value("")
    shot(page, "01_gdzwfw_wrong_password")

    # The login request survives the mistake: the right password goes on.
    submit_password(page, "demo_l2", DEMO_PASSWORD)
    expect(page).to_have_url(_url_re(chain.portal, "/"))
    expect(page.locator("#org-name")).to_have_text(DEMO_ORG)


def test_error_pages_are_explained_in_chinese(page: Page, chain, shot) -> None:
    page.goto(f"{chain.idp}/authorize?client_id=no-such-app&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A8099%2Fcb")
    expect(page.get_by_role("heading", name="登录请求无效")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("未在本平台登记")
    shot(page, "01_gdzwfw_invalid_login_request")

    response = page.goto(f"{chain.portal}/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("您访问的页面不存在")
    shot(page, "02_portal_not_found")
