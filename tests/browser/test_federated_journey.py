"""Issue 5's journey in a real browser, across all three services:

a new legal person registers at 广东省统一身份认证平台 (三级（原L1）) → logs in
to 失业保险稳岗返还 through 广东人社统一认证 → the ISSO will not initialise a
unit from an L1 provincial login and the portal explains that 四级（原L2） is
needed → the portal's 去实名核验升级 asks for L2 as a requirement, which the
ISSO forwards to the province → 网银证书核验 there → 返回继续登录 → the ISSO's
登录初始化 ((3) 单位所属实名人员信息, (4) 单位信息 from the provincial claims)
→ log in again → the portal admits the unit → 退出登录 at the portal leaves
no session at any of the three.

gdzwfw_idp trusts a test PKI generated for this module (``devtools.certs``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from devtools.certs import generate
from devtools.stack import free_port
from tests.browser.conftest import ChainUrls
from tests.browser.gdzwfw_steps import pki_chain, register_legal_person, running_ca_helper, url_re, verify_by_bank_certificate
from tests.chain_helpers import sms_outbox

pytestmark = pytest.mark.browser

UNIT = {
    "org_name": "佛山市顺德区示范家电有限公司",
    "uscc": "91440606MA5DLC0059",
    "city": "佛山市",
    "district": "顺德区",
    "address": "大良街道700号",
    "legal_rep_name": "周芳",
    "legal_rep_id_number": "440606197906060013",
}
LOGIN_NAME = "shunde_jd01"
PASSWORD = "Reg@2026abc"
MOBILE = "13912340606"
# The handler: an HRSS personal account at 二级 (demo data of hrss_isso).
HANDLER = {"login_name": "chenxiao", "id_number": "440106199007150041"}
HRSS = {"login_name": "shunde_jiadian", "password": "Gzhr@2026x", "mobile": "13600136066"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChainUrls, object]]:
    pki = generate(tmp_path_factory.mktemp("journey-pki"))
    helper_port = free_port()
    with pki_chain(tmp_path_factory.mktemp("journey-stack"), pki, suffix="journey", ca_helper=f"http://127.0.0.1:{helper_port}") as urls:
        with running_ca_helper(pki, allow_origin=urls.idp, port=helper_port):
            yield urls, pki


def _to_gdzwfw_from_isso(page: Page, chain: ChainUrls) -> None:
    """At the ISSO's login page: 单位登录 / 省统一身份认证 → 省统一身份认证登录."""
    expect(page).to_have_url(url_re(chain.isso, "/isso/login"))
    expect(page.get_by_text("您正在登录：失业保险稳岗返还")).to_be_visible()
    page.locator("#gdzwfw-login").click()


def test_register_upgrade_initialise_admit_and_log_out_everywhere(page: Page, chain, shot, csp_violations: list[str]) -> None:
    urls, pki = chain
    idp, isso, portal = urls.idp, urls.isso, urls.portal

    # -- 法人注册 at the province: 三级（原L1） ---------------------------------------
    page.goto(f"{idp}/register/legal")
    register_legal_person(page, idp, unit=UNIT, login_name=LOGIN_NAME, password=PASSWORD, mobile=MOBILE, shot=shot)

    # -- 失业保险稳岗返还 → 广东人社统一认证 → 省统一身份认证 (法人登录, 账号密码) ---------
    page.goto(f"{portal}/")
    expect(page.get_by_role("heading", name="失业保险稳岗返还信息确认")).to_be_visible()
    page.locator("#login").click()
    _to_gdzwfw_from_isso(page, urls)
    expect(page).to_have_url(url_re(idp, "/login"))
    page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True).click()
    page.get_by_role("tab", name="账号密码", exact=True).click()
    page.get_by_label("法人登录账号").fill(LOGIN_NAME)
    page.get_by_label("登录密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()

    # First login at L1: the ISSO creates nothing and says why.
    expect(page).to_have_url(url_re(isso, "/isso/federation/gdzwfw/callback"))
    notice = page.locator("#init-level-required")
    expect(notice).to_contain_text(UNIT["org_name"])
    expect(notice).to_contain_text("三级（原L1）")
    expect(notice).to_contain_text("四级（原L2）")
    shot(page, "01_isso_init_needs_l2")
    page.locator("#decline").click()

    # The portal explains that L2 is needed and offers the upgrade.
    expect(page).to_have_url(url_re(portal, "/auth/callback"))
    expect(page.get_by_role("alert")).to_contain_text("稳岗返还信息确认需要四级（原L2）或以上，请先完成实名核验升级")
    shot(page, "02_portal_explains_l2")
    page.locator("#upgrade").click()

    # A new request requiring L2 → the ISSO (no session there yet) → the province,
    # still signed in at L1, offers 实名核验 for this request.
    _to_gdzwfw_from_isso(page, urls)
    expect(page).to_have_url(url_re(idp, "/authorize"))
    expect(page.get_by_role("heading", name="账号可信等级不足")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("广东人社统一认证")
    shot(page, "03_gdzwfw_level_required")
    page.get_by_role("link", name="去实名核验升级").click()
    # The employer's 「CA助手」 is running: pick the certificate, type the PIN.
    verify_by_bank_certificate(page, idp, pki=pki, uscc=UNIT["uscc"], shot=shot, via_helper=True)
    page.get_by_role("link", name="返回“广东人社统一认证”继续登录").click()

    # -- 登录初始化 at the ISSO, now that the province vouches at L2 -------------------
    expect(page).to_have_url(url_re(isso, "/isso/init"))
    expect(page.locator("#init-notice")).to_contain_text(UNIT["org_name"])
    shot(page, "04_isso_init_step3")
    page.fill("#login_name", HANDLER["login_name"])
    page.fill("#id_number", HANDLER["id_number"])
    page.locator("#step1-next").click()

    expect(page).to_have_url(url_re(isso, "/isso/init/info"))
    expect(page.locator("#cert_number")).to_have_value(UNIT["uscc"])
    expect(page.locator("#org_name")).to_have_value(UNIT["org_name"])
    expect(page.locator("#org_name")).to_have_attribute("readonly", "")
    page.select_option("#region_code", "440600")
    page.fill("#address", "广东省佛山市顺德区大良街道700号")
    page.fill("#legal_rep_name", UNIT["legal_rep_name"])
    page.fill("#legal_rep_id_number", UNIT["legal_rep_id_number"])
    page.fill("#legal_rep_mobile", HRSS["mobile"])
    page.fill("#login_name", HRSS["login_name"])
    page.fill("#password", HRSS["password"])
    page.fill("#password2", HRSS["password"])
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_text("验证码已发送")).to_be_visible()
    page.fill("#sms_code", sms_outbox(isso, HRSS["mobile"]))
    shot(page, "05_isso_init_step4")
    page.locator("#unit-register-submit").click()

    expect(page).to_have_url(url_re(isso, "/isso/init/done"))
    expect(page.locator("#unit-register-done")).to_have_text("登录初始化成功！")
    expect(page.locator("#init-done")).to_contain_text("请关闭页面，清理浏览器缓存，然后重新登录")
    shot(page, "06_isso_init_done")

    # -- Log in again: straight through to the portal, admitted at L2 ----------------
    page.goto(f"{portal}/")
    page.locator("#login").click()
    _to_gdzwfw_from_isso(page, urls)
    # Still signed in at the province (now L2): no second password.
    expect(page).to_have_url(url_re(portal, "/"))
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    expect(page.locator("#org-name")).to_have_text(UNIT["org_name"])
    expect(page.locator("#uscc")).to_have_text(UNIT["uscc"])
    expect(page.get_by_text("四级（原L2）").first).to_be_visible()
    shot(page, "07_portal_admitted")

    # -- 退出登录 at the portal: no session left anywhere -----------------------------
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(url_re(portal, "/"))
    expect(page.locator("#login")).to_be_visible()
    shot(page, "08_portal_logged_out")
    page.goto(f"{isso}/isso/")
    expect(page).to_have_url(url_re(isso, "/isso/login"))
    page.goto(f"{idp}/account")
    expect(page).to_have_url(url_re(idp, "/login"))
    # And the portal asks for a login again rather than letting the unit in.
    page.goto(f"{portal}/")
    page.locator("#login").click()
    expect(page).to_have_url(url_re(isso, "/isso/login"))
    # Every page of the three services, the 「CA助手」 fetches and the logins' and
    # logout's cross-site form redirects ran under the Content-Security-Policy.
    assert csp_violations == []
