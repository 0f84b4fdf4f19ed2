"""A handler (经办人) sent from 失业保险稳岗返还 to 授权码实名 keeps the
portal's login in view: 「您正在登录…」 on the 实名认证 pages, and after the
code 「返回…继续登录」 takes the unit straight to the portal at 四级（原L2）."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from services.hrss_isso.demo import DEMO_AUTHORIZATION_CODE, DEMO_PASSWORD
from tests.browser.gdzwfw_steps import url_re

pytestmark = pytest.mark.browser

LIWAN = "广州市荔湾区示范制造有限公司"


def test_a_handler_enters_the_code_and_returns_to_the_portal(page: Page, chain, shot) -> None:
    isso = f"{chain.isso}/isso"
    page.goto(f"{chain.portal}/")
    page.locator("#login").click()
    expect(page).to_have_url(url_re(chain.isso, "/isso/login"))
    page.locator("nav.tabs").get_by_role("link", name="个人登录", exact=True).click()
    page.get_by_role("tab", name="账号密码", exact=True).click()
    page.fill("#login_name", "sunli")  # 孙丽: bound to 荔湾, her application approved, code not yet entered
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(url_re(isso, "/login/units"))
    page.get_by_text(LIWAN).click()
    page.locator("#choose-unit").click()

    # At 三级（原L1） the portal asks for more; its 前往实名核验 reaches the ISSO's advice.
    expect(page).to_have_url(url_re(chain.portal, "/"))
    page.locator("#upgrade").click()
    expect(page.get_by_role("heading", name="账号可信等级不足")).to_be_visible()
    page.locator("#upgrade").click()

    expect(page).to_have_url(url_re(isso, "/realname/apply"))
    waiting = page.locator("#waiting-request")
    expect(waiting).to_contain_text("您正在登录：失业保险稳岗返还")
    expect(waiting.get_by_role("link", name="返回“失业保险稳岗返还”继续登录")).to_be_visible()
    shot(page, "01_isso_realname_apply_waiting")

    page.locator("nav.float-menu").get_by_role("link", name="授权码实名").click()
    expect(page).to_have_url(url_re(isso, "/realname/code"))
    expect(page.locator("#waiting-request")).to_contain_text("您正在登录：失业保险稳岗返还")
    page.get_by_label("单位授权码").fill(DEMO_AUTHORIZATION_CODE)
    page.locator("#code-submit").click()
    expect(page.locator("#code-status")).to_have_text("已完成授权码实名")
    expect(page.locator("#waiting-request")).to_contain_text("当前单位的可信等级已满足要求")
    shot(page, "02_isso_realname_code_done")

    page.locator("#continue-login").click()
    expect(page).to_have_url(url_re(chain.portal, "/"))
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    expect(page.locator("#org-name")).to_have_text(LIWAN)
