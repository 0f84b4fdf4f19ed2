"""A new employer, in a real browser, from nothing to an L2 login at a client:
demo-rp asks 广东省统一身份认证平台 for 四级（原L2） (essential ``acr``) →
法人登录 → 立即注册 → 法人注册 (1 输入基础信息 → 2 实名核验 → 3 注册完成, with
the WeChat face check through the development mini-program and an SMS code
from the outbox) → login at 三级（原L1） → the upgrade page → 网银证书核验 with
the 「CA助手」 → back to demo-rp with a code and ``iss``.

The provider runs as a uvicorn process trusting a test PKI generated for this
module (``devtools.certs``); demo-rp's redirect URI is answered by the browser
itself, so nothing needs to listen on port 8099.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from devtools.certs import generate
from devtools.stack import free_port
from services.gdzwfw_idp.demo import DEMO_PASSWORD, DEMO_STAFF, DEMO_STAFF_PASSWORD
from shared.totp import totp
from tests.browser.conftest import ChainUrls
from tests.browser.gdzwfw_steps import handler_login, pki_chain, register_legal_person, url_re, verify_by_bank_certificate
from tests.oidc_helpers import DEMO_REDIRECT, Pkce, essential_acr_claims

pytestmark = pytest.mark.browser

UNIT = {
    "org_name": "广州市海珠区示范物流有限公司",
    "uscc": "91440105MA5DLA00XW",
    "city": "广州市",
    "district": "海珠区",
    "address": "新港中路500号",
    "legal_rep_name": "赵敏",
    "legal_rep_id_number": "440105198203150021",
}
LOGIN_NAME = "haizhu_wl01"
PASSWORD = "Reg@2026abc"
MOBILE = "13912345678"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    return generate(tmp_path_factory.mktemp("browser-pki"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, pki) -> Iterator[ChainUrls]:
    """The conftest's stack, with gdzwfw_idp trusting this module's test PKI."""
    # The pages look for a 「CA助手」 where none runs: the employer is told so
    # and signs on the command line instead.
    no_helper = f"http://127.0.0.1:{free_port()}"
    with pki_chain(
        tmp_path_factory.mktemp("browser-registration-stack"), pki, suffix="reg", services=("gdzwfw_idp",), ca_helper=no_helper
    ) as urls:
        yield urls


def test_register_then_bank_certificate_to_l2_then_demo_rp_login(page: Page, chain: ChainUrls, pki, shot) -> None:
    idp = chain.idp
    callbacks: list[str] = []

    def answer_callback(route) -> None:
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body="<h1>demo-rp 回调</h1>")

    page.context.route(f"{DEMO_REDIRECT}*", answer_callback)
    pkce = Pkce.new()
    params = {
        "response_type": "code",
        "client_id": "demo-rp",
        "redirect_uri": DEMO_REDIRECT,
        "scope": "openid profile",
        "state": "browser-state",
        "nonce": "browser-nonce",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "claims": essential_acr_claims("urn:gdzwfw:loa:L2"),
    }

    # demo-rp sends the employer to the province's login page.
    page.goto(f"{idp}/authorize?{urlencode(params)}")
    expect(page).to_have_url(url_re(idp, "/login"))
    expect(page.get_by_text("您正在登录：演示应用（demo-rp）")).to_be_visible()
    page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True).click()
    page.get_by_role("tab", name="账号密码", exact=True).click()
    shot(page, "01_login_legal_password")
    page.get_by_role("link", name="立即注册").click()
    register_legal_person(page, idp, unit=UNIT, login_name=LOGIN_NAME, password=PASSWORD, mobile=MOBILE, shot=shot)
    page.get_by_role("link", name="立即登录").click()

    # Log in: the account is L1, demo-rp needs L2.
    expect(page.get_by_label("法人登录账号")).to_have_value(LOGIN_NAME)
    expect(page.get_by_text("您正在登录：演示应用（demo-rp）")).to_be_visible()
    page.get_by_label("登录密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="账号可信等级不足")).to_be_visible()
    shot(page, "06_level_required")
    page.get_by_role("link", name="去实名核验升级").click()

    # 实名核验 → 企业/单位网银证书核验 → 核验升级.
    verify_by_bank_certificate(page, idp, pki=pki, uscc=UNIT["uscc"], shot=shot)

    # Back to demo-rp, now at L2.
    page.get_by_role("link", name="返回“演示应用（demo-rp）”继续登录").click()
    page.wait_for_url(f"{DEMO_REDIRECT}*")
    assert callbacks, "the browser never reached demo-rp's redirect URI"
    query = {k: v[0] for k, v in parse_qs(urlsplit(callbacks[-1]).query).items()}
    assert query["iss"] == idp and query["state"] == "browser-state" and query["code"]


def test_registration_mistakes_show_next_to_their_fields(page: Page, chain: ChainUrls, shot) -> None:
    page.goto(f"{chain.idp}/register/legal")
    page.get_by_label("法人登录账号").fill("ab")
    page.get_by_label("登录密码").fill("weakpass")
    page.get_by_label("确认密码").fill("weakpas")
    page.locator("#uscc").fill("91440105MA5DLA00XA")
    page.locator("#legal_rep_id_number").fill("440105198202300021")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_role("alert").first).to_contain_text("处需要修改")
    for field, message in (
        ("login_name", "请输入6-20位字符"),
        ("password", "三种及以上"),
        ("password_confirm", "两次输入的密码不一致"),
        ("uscc", "统一社会信用代码校验位不正确"),
        ("legal_rep_id_number", "身份证号码的出生日期不存在"),
        ("applicant", "通过人脸识别添加实名信息"),
        ("agree", "《用户服务协议》和《隐私政策》"),
    ):
        error = page.locator(f"#{field}-error")
        expect(error).to_contain_text(message)
        # Inside the same field block as its input: next to it, not in a list at the top.
        expect(page.locator(".field, .agree").filter(has=error)).to_have_count(1)
    expect(page.get_by_label("法人登录账号")).to_have_value("ab")
    expect(page.get_by_label("登录密码")).to_have_value("")
    shot(page, "01_register_errors")


def test_licence_login_without_registration_opens_an_l2_account(page: Page, chain: ChainUrls, shot) -> None:
    page.goto(f"{chain.idp}/login?tab=legal&method=wechat")
    expect(page.get_by_role("img", name="电子营业执照扫码二维码")).to_be_visible()
    shot(page, "01_login_wechat_qr")
    with page.context.expect_page() as popup_info:
        page.get_by_role("link", name="在新窗口打开模拟小程序").click()
    phone = popup_info.value
    phone.wait_for_load_state()
    phone.get_by_label("选择电子营业执照").select_option("91440305MA5DLB002T")
    shot(phone, "02_licence_wallet")
    phone.get_by_role("button", name="确认登录").click()
    expect(phone.get_by_text("扫码确认成功")).to_be_visible()
    phone.close()
    # The page learns the outcome by polling and completes the login by itself.
    expect(page).to_have_url(url_re(chain.idp, "/account"), timeout=15_000)
    expect(page.locator("main")).to_contain_text("深圳市南山区示范软件有限公司")
    expect(page.locator("main")).to_contain_text("四级（原L2）")
    shot(page, "03_account_after_licence_login")
    page.locator("nav.side-nav").get_by_role("link", name="实名核验").click()
    expect(page.locator("#audit")).to_contain_text("无需注册，微信扫码使用电子营业执照直接登录")
    shot(page, "04_verification_after_licence_login")


def test_account_security_and_handler_pages(page: Page, chain: ChainUrls, shot) -> None:
    page.goto(f"{chain.idp}/login?tab=legal&method=password")
    page.get_by_label("法人登录账号").fill("demo_l2")
    page.get_by_label("登录密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.locator("nav.side-nav").get_by_role("link", name="账号安全设置").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    shot(page, "01_security")
    page.locator("nav.side-nav").get_by_role("link", name="我的经办人").click()
    expect(page.locator("#handlers")).to_contain_text("陈晓")
    shot(page, "02_handlers")
    handler_login(page, chain.idp, "demo_person", DEMO_PASSWORD)
    shot(page, "03_handler_choose")
    page.get_by_role("button", name="为该法人办理业务").first.click()
    expect(page.locator("main")).to_contain_text("您正以经办人（陈晓）身份为“广州市越秀区示范贸易有限公司”办理业务")
    shot(page, "04_acting_for_unit")


def test_staff_console_raises_a_unit_to_l3(page: Page, chain: ChainUrls, shot) -> None:
    officer = DEMO_STAFF[0]
    page.goto(f"{chain.idp}/staff/login")
    page.get_by_label("工号").fill(officer["login_name"])
    page.get_by_label("密码").fill(DEMO_STAFF_PASSWORD)
    page.get_by_label("动态口令").fill(totp(officer["secret"], time.time()))
    shot(page, "01_staff_login")
    page.get_by_role("button", name="登录").click()
    page.get_by_label("查询法人").fill("91440106MA5DL1A170")
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name="办理").click()
    expect(page.get_by_role("heading", name="现场核验 · 广州市天河区示范科技有限公司")).to_be_visible()
    page.get_by_label("营业执照（登记证书）原件").check()
    page.get_by_label("法定代表人（负责人）身份证件原件").check()
    page.get_by_label("备注").fill("法定代表人本人到场")
    shot(page, "02_staff_unit")
    page.get_by_role("button", name="核验通过，提升为五级（原L3）").click()
    expect(page.get_by_role("status")).to_contain_text("现场核验已记录")
    expect(page.locator("main")).to_contain_text("林办事（工号 hall_officer）")
    shot(page, "03_staff_done")
