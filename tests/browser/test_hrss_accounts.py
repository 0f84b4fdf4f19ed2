"""The seed's part 二 in a real browser, from nothing to the refund portal:

个人注册 (证件号码 + 手机号码, SMS code) → 人口库实名核验 (二级) → 单位注册
(1 单位所属实名人员信息 → 2 单位信息 → 3 注册完成) → the unit account adds
the handler (子账号信息) → the handler accepts (父账号信息) → 申请单位授权码
with uploaded materials → the agency approves in its console → the code by
SMS → 授权码实名 → 失业保险稳岗返还 → 个人登录 → 「为选中的单位办理业务，
点击此处登录」 → the portal admits the unit at 四级（原L2）.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from services.hrss_isso.demo import DEMO_STAFF_TOTP
from tests.chain_helpers import sms_outbox, staff_totp

pytestmark = pytest.mark.browser

PASSWORD = "Gzhr@2026x"
HANDLER = {
    "name": "周婷",
    "id_number": "44010619950214006X",
    "mobile": "13700137001",
    "login_name": "zhouting",
    "valid_until": "2036-02-14",
}
UNIT = {
    "cert_number": "91440101MA9XY7008U",
    "org_name": "广州市海珠区示范服务有限公司",
    "address": "广州市海珠区新港东路1号",
    "legal_rep_name": "郑浩",
    "legal_rep_id_number": "440106199309090099",
    "legal_rep_mobile": "13600136001",
    "login_name": "haizhu_fuwu",
}
PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000185d114090000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def _url_re(base: str, path: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(base + path)}(?:[?#].*)?$")


def _new_page(chromium: Browser) -> Page:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    return context.new_page()


def test_part_two_from_personal_registration_to_the_portal_at_l2(page: Page, chain, chromium, shot) -> None:
    isso = f"{chain.isso}/isso"

    # -- 个人注册: 证件号码 + 手机号码 ------------------------------------------------
    page.goto(f"{isso}/login?tab=personal&method=password")
    page.locator("#link-register-person").click()
    expect(page.get_by_role("heading", name="个人注册")).to_be_visible()
    shot(page, "01_two_ways_to_register")
    page.locator("#way-sms").click()
    page.fill("#name", HANDLER["name"])
    page.fill("#id_number", HANDLER["id_number"])
    page.fill("#mobile", HANDLER["mobile"])
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("[data-sms-status]")).to_have_text("验证码已发送至137****7001，5分钟内有效")
    page.fill("#sms_code", sms_outbox(chain.isso, HANDLER["mobile"], r"验证码为(\d{6})"))
    page.fill("#login_name", HANDLER["login_name"])
    page.fill("#password", "Abcd1234x")  # a keyboard run of 4: refused next to the field
    page.fill("#password2", "Abcd1234x")
    page.locator("#register-submit").click()
    expect(page.locator("#password-error")).to_contain_text("不能在键盘上连续超过3个字符")
    shot(page, "02_person_password_rule")
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.locator("#register-submit").click()
    expect(page.locator("#register-done")).to_contain_text("一级实名")
    shot(page, "03_person_registered_level_one")

    # -- 二级: 人口库实名核验 ---------------------------------------------------------
    page.locator("#go-realname").click()
    page.fill("#valid_until", HANDLER["valid_until"])
    page.locator("#realname-submit").click()
    expect(page.locator("#realname-level")).to_have_text("二级实名")
    shot(page, "04_person_level_two")

    # -- 单位注册 ----------------------------------------------------------------------
    page.goto(f"{isso}/register/unit")
    expect(page.get_by_role("heading", name="操作指引")).to_be_visible()
    page.fill("#login_name", HANDLER["login_name"])
    page.fill("#id_number", HANDLER["id_number"])
    shot(page, "05_unit_step1")
    page.locator("#step1-next").click()
    expect(page).to_have_url(_url_re(chain.isso, "/isso/register/unit/info"))
    page.select_option("#cert_type", "org_code")
    page.fill("#cert_number", "D2143569-X")
    page.fill("#org_name", UNIT["org_name"])
    page.select_option("#region_code", "440100")
    page.fill("#address", UNIT["address"])
    page.fill("#legal_rep_name", UNIT["legal_rep_name"])
    page.fill("#legal_rep_id_number", UNIT["legal_rep_id_number"])
    page.fill("#legal_rep_mobile", UNIT["legal_rep_mobile"])
    page.fill("#login_name", UNIT["login_name"])
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("[data-sms-status]")).to_contain_text("验证码已发送")
    page.fill("#sms_code", sms_outbox(chain.isso, UNIT["legal_rep_mobile"], r"验证码为(\d{6})"))
    page.locator("#unit-register-submit").click()
    expect(page.locator("#cert_number-error")).to_have_text("组织机构代码第九位“-”请省略")
    shot(page, "06_unit_step2_org_code_hyphen")
    page.select_option("#cert_type", "uscc")
    page.fill("#cert_number", UNIT["cert_number"])
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    # The code was not spent by the refused form.
    page.fill("#sms_code", sms_outbox(chain.isso, UNIT["legal_rep_mobile"], r"验证码为(\d{6})"))
    page.locator("#unit-register-submit").click()
    expect(page.locator("#unit-register-done")).to_be_visible()
    unit_code = page.locator("#new-unit-code").inner_text()
    assert re.fullmatch(r"440100\d{5}", unit_code)
    shot(page, "07_unit_registered")

    # -- the unit account: 子账号信息 → 新增经办人 -----------------------------------------
    unit_page = _new_page(chromium)
    unit_page.goto(f"{isso}/login?tab=unit&method=password")
    unit_page.fill("#login_name", UNIT["login_name"])
    unit_page.fill("#password", PASSWORD)
    unit_page.get_by_role("button", name="登录", exact=True).click()
    expect(unit_page.locator("#home-level")).to_have_text("三级（原L1）")
    unit_page.locator("#nav-account").click()
    unit_page.fill("#handler_login_name", HANDLER["login_name"])
    unit_page.fill("#handler_id_number", HANDLER["id_number"])
    unit_page.locator("#binding-request").click()
    expect(unit_page.locator("#sub-accounts")).to_contain_text("待确认")
    shot(unit_page, "08_unit_sub_accounts")

    # -- the handler: 父账号信息 → 同意绑定 ------------------------------------------------
    page.goto(f"{isso}/account/parent-accounts")
    page.get_by_role("button", name="同意绑定").click()
    expect(page.locator("#parent-accounts")).to_contain_text("已绑定")
    shot(page, "09_handler_parent_accounts")

    # -- 选择单位 → 实名认证 → 申请单位授权码 -------------------------------------------------
    page.goto(f"{isso}/login/units")
    expect(page.get_by_role("dialog")).to_contain_text(UNIT["org_name"])
    page.get_by_role("button", name="为选中的单位办理业务，点击此处登录").click()
    expect(page.locator("#home-level")).to_have_text("三级（原L1）")
    page.locator("#nav-realname").click()
    page.fill("#q", unit_code)
    page.locator("#search").click()
    page.locator(f"#unit-{unit_code}").check()
    page.set_input_files("#licence", files=[{"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("#id_document", files=[{"name": "身份证.png", "mimeType": "application/pdf", "buffer": PNG}])
    page.set_input_files("#mandate", files=[{"name": "委托书.pdf", "mimeType": "application/pdf", "buffer": JPEG}])
    page.locator("#apply-submit").click()
    expect(page.locator("#mandate-error")).to_contain_text("文件内容与文件名不符")
    shot(page, "10_apply_mismatched_upload")
    page.locator(f"#unit-{unit_code}").check()
    page.set_input_files("#licence", files=[{"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("#id_document", files=[{"name": "身份证.png", "mimeType": "image/png", "buffer": PNG}])
    page.set_input_files("#mandate", files=[{"name": "委托书.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    page.locator("#apply-submit").click()
    expect(page.locator("#applications")).to_contain_text("待审核")
    shot(page, "11_application_submitted")

    # -- the agency approves ---------------------------------------------------------------
    staff = _new_page(chromium)
    staff.goto(f"{isso}/staff/login")
    staff.fill("#login_name", "staff_review")
    staff.fill("#password", "Hrss@demo2026")
    staff.fill("#totp", staff_totp(DEMO_STAFF_TOTP["staff_review"]))
    staff.get_by_role("button", name="登录", exact=True).click()
    row = staff.locator("#staff-applications tr", has_text=UNIT["org_name"])
    row.get_by_role("link", name="审核").click()
    expect(staff.locator("#materials")).to_contain_text("营业执照.pdf")
    shot(staff, "12_staff_review")
    staff.locator("#approve").click()
    expect(staff.locator("#app-status")).to_have_text("已通过")

    # -- 授权码实名 --------------------------------------------------------------------------
    code = sms_outbox(chain.isso, HANDLER["mobile"], r"授权码：([0-9A-Z]{8})")
    page.goto(f"{isso}/realname/code")
    page.fill("#code", code)
    page.locator("#code-submit").click()
    expect(page.locator("#code-status")).to_have_text("已完成授权码实名")
    shot(page, "13_code_entered")

    # -- 失业保险稳岗返还: 个人登录 for the unit, admitted at L2 ---------------------------------
    portal = _new_page(chromium)
    portal.goto(f"{chain.portal}/")
    portal.locator("#login").click()
    expect(portal).to_have_url(_url_re(chain.isso, "/isso/login"))
    portal.locator("nav.tabs").get_by_role("link", name="个人登录", exact=True).click()
    portal.get_by_role("tab", name="账号密码", exact=True).click()
    expect(portal.get_by_text("您正在登录：失业保险稳岗返还")).to_be_visible()
    portal.fill("#login_name", HANDLER["login_name"])
    portal.fill("#password", PASSWORD)
    shot(portal, "14_portal_personal_login")
    portal.get_by_role("button", name="登录", exact=True).click()
    dialog = portal.get_by_role("dialog")
    expect(dialog).to_contain_text(UNIT["org_name"])
    expect(dialog).to_contain_text("四级（原L2）")
    shot(portal, "15_choose_unit_dialog")
    portal.get_by_role("button", name="为选中的单位办理业务，点击此处登录").click()
    expect(portal).to_have_url(_url_re(chain.portal, "/"))
    expect(portal.locator("#org-name")).to_have_text(UNIT["org_name"])
    expect(portal.get_by_text("四级（原L2）")).to_be_visible()
    if portal.locator("#handler").count():
        expect(portal.locator("#handler")).to_have_text(HANDLER["name"])
    shot(portal, "16_portal_admits_unit_at_l2")
