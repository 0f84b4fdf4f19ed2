"""稳岗返还信息确认 in a real browser: from login at the portal as demo_l2 to
a confirmed record, then the agency's side — the payment export contains
it — and the agency's import of a list with a bad row."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.refund_portal.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_TOTP, DEMO_YEAR
from tests.browser.conftest import DESKTOP
from tests.browser.test_login_chain import open_gdzwfw_login, submit_password
from tests.chain_helpers import staff_totp

pytestmark = pytest.mark.browser

USCC = "91440104MA5DL2B24P"
IMPORT_HEADER = (
    "统一社会信用代码,单位名称,单位管理码,企业规模,参保人数,单位缴纳失业保险费（元）,"
    "职工缴纳失业保险费（元）,裁员人数,欠费金额（元）,开户银行,银行账号"
)
# The second row's USCC has a wrong check character.
IMPORT_ROWS = [
    "91440101MA9XY1001X,广州市示范物流有限公司,44010100101,中小微,20,8000.00,4000.00,0,0,招商银行广州分行,120909123410101",
    "91440101MA9XY101XJ,广州市示范餐饮有限公司,44010100102,中小微,15,6000.5,3000.25,1,0,中国银行广州分行,661234567890",
    "91440101MA9XY1028J,广州市示范印刷有限公司,44010100103,大型,400,300000,150000,40,0,交通银行广州分行,441160000018800012345",
]


def staff_login(page: Page, chain, login_name: str) -> None:
    page.goto(f"{chain.portal}/agency/")
    expect(page.get_by_role("heading", name="经办人员登录")).to_be_visible()
    page.get_by_label("工作人员账号").fill(login_name)
    page.get_by_label("登录密码").fill(DEMO_STAFF_PASSWORD)
    page.get_by_label("动态口令").fill(staff_totp(DEMO_STAFF_TOTP[login_name]))
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator("#staff-name")).to_be_visible()


def test_l2_unit_confirms_its_refund_and_the_agency_exports_it(page: Page, chain, shot, chromium) -> None:
    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l2", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()

    record = page.locator("section.refund[data-status='pending']")
    expect(record).to_have_count(1)
    expect(record.get_by_role("heading", name=f"{DEMO_YEAR}年度失业保险稳岗返还")).to_be_visible()
    expect(record.get_by_test_id("amount")).to_have_text("¥34,574.69元")
    expect(record.get_by_test_id("amount-words")).to_have_text("人民币叁万肆仟伍佰柒拾肆元陆角玖分")
    expect(record.get_by_test_id("bank-account")).to_have_text("3602***********3456")
    expect(record.get_by_text("57,624.48 × 60% = 34,574.69 元")).to_be_visible()
    # Last year's refund, already paid, is listed too.
    expect(page.locator("section.refund[data-status='paid']")).to_contain_text(f"{DEMO_YEAR - 1}年度")
    shot(page, "01_record_pending")

    record.get_by_role("link", name="确认返还信息").click()
    expect(page.get_by_role("heading", name="确认稳岗返还信息")).to_be_visible()
    expect(page.locator("label.declaration").get_by_text("确认后不可更改")).to_be_visible()
    # The declaration must be ticked: the browser will not send the form without it.
    page.get_by_role("button", name="确认提交").click()
    expect(page.get_by_role("heading", name="确认稳岗返还信息")).to_be_visible()
    shot(page, "02_confirm_step")
    page.get_by_label("备注（选填）").fill("已核对开户许可证")
    page.locator("#declaration").check()
    page.get_by_role("button", name="确认提交").click()
    # Asked once more in a dialog before anything is sent.
    dialog = page.get_by_role("dialog", name="请再次确认")
    expect(dialog).to_contain_text("确认后不可更改")
    shot(page, "02b_confirm_dialog")
    dialog.get_by_role("button", name="确认提交").click()

    expect(page.locator("#flash")).to_contain_text("确认成功")
    confirmed = page.locator("section.refund").first
    expect(confirmed.get_by_test_id("status")).to_have_text("已确认")
    expect(confirmed.get_by_test_id("decision")).to_contain_text("确认时间")
    expect(confirmed.get_by_role("link", name="确认返还信息")).to_have_count(0)
    shot(page, "03_record_confirmed")

    # The agency, in its own browser: the payment export contains the record.
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True)
    try:
        agency = context.new_page()
        staff_login(agency, chain, "wg_clerk")
        shot(agency, "04_agency_overview")
        agency.get_by_role("navigation", name="管理功能").get_by_role("link", name="拨付发放").click()
        expect(agency.locator("#waiting-count")).not_to_have_text("0")
        shot(agency, "05_agency_payments")
        agency.locator("#create-batch").click()
        expect(agency.get_by_role("heading", name=re.compile(r"^拨付批次 \d+"))).to_be_visible()
        expect(agency.locator("#batch-records")).to_contain_text(USCC)
        shot(agency, "06_agency_payment_batch")
        with agency.expect_download() as download:
            agency.locator("#export-csv").click()
        rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
        exported = {r[3]: r for r in rows[1:]}
        assert USCC in exported, rows
        assert exported[USCC][8] == "34574.69" and exported[USCC][7] == "3602000109200123456"
        assert download.value.suggested_filename.endswith(".csv")
    finally:
        context.close()


def test_the_agency_imports_a_list_with_a_bad_row_and_keeps_the_good_ones(page: Page, chain, shot, tmp_path) -> None:
    staff_login(page, chain, "wg_supervisor")
    page.get_by_role("navigation", name="管理功能").get_by_role("link", name="名单导入").click()
    expect(page.get_by_role("heading", name="导入稳岗返还名单（免申即享名单）")).to_be_visible()
    shot(page, "01_agency_imports")
    lines = [IMPORT_HEADER, *IMPORT_ROWS]
    file = tmp_path / "2026年度名单.csv"
    file.write_text("\n".join(lines), encoding="utf-8-sig")
    page.locator("#year").select_option(str(DEMO_YEAR))
    page.locator("#file").set_input_files(str(file))
    page.locator("#upload").click()
    # Imported in the background (this stack sends every file there): the job's page ends on the result.
    expect(page).to_have_url(re.compile(r"/agency/imports/jobs/[\w-]+$"))
    expect(page.locator("#import-refused")).to_contain_text("整份文件未导入")
    errors = page.locator("#row-errors")
    expect(errors).to_contain_text("第 2 行")
    expect(errors).to_contain_text("统一社会信用代码")
    shot(page, "02_agency_import_refused")

    page.locator("#acknowledge").check()
    page.locator("#import-good-rows").click()
    expect(page.locator("#import-done")).to_contain_text("1 行有错误未导入")
    shot(page, "03_agency_import_batch")

    page.get_by_role("navigation", name="管理功能").get_by_role("link", name="审计日志").click()
    expect(page.locator("#chain-status")).to_contain_text("哈希链校验通过")
    shot(page, "04_agency_audit")


def test_a_unit_reports_its_bank_account_wrong_and_the_agency_corrects_it(page: Page, chain, shot, chromium) -> None:
    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l3", DEMO_PASSWORD)
    record = page.locator("section.refund[data-status='pending']")
    expect(record.get_by_test_id("amount-words")).to_have_text("人民币壹拾捌万壹仟肆佰肆拾元整")
    record.get_by_role("link", name="银行账户有误").click()
    expect(page.get_by_role("heading", name="反馈银行账户有误")).to_be_visible()
    page.locator("#declaration").check()
    page.get_by_label("有误情况说明").fill("  ")
    page.get_by_role("button", name="提交反馈").click()
    page.get_by_role("dialog").get_by_role("button", name="提交反馈").click()
    # Blank after trimming: the server refuses and says why; nothing changed.
    expect(page.get_by_role("alert")).to_contain_text("请填写说明")
    shot(page, "01_report_account_refused")
    page.get_by_label("有误情况说明").fill("本单位基本户已变更为农业银行广州荔湾支行 44037001040099999")
    page.locator("#declaration").check()
    page.get_by_role("button", name="提交反馈").click()
    page.get_by_role("dialog").get_by_role("button", name="提交反馈").click()
    expect(page.locator("#flash")).to_contain_text("经办机构将核实更正")
    reported = page.locator("section.refund[data-status='account_reported']")
    expect(reported.get_by_test_id("status")).to_have_text("账户待核实")
    shot(page, "02_account_reported")

    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        agency = context.new_page()
        staff_login(agency, chain, "wg_clerk")
        agency.goto(f"{chain.portal}/agency/records?year={DEMO_YEAR}&status=account_reported")
        expect(agency.locator("table.data")).to_contain_text("广州市荔湾区示范制造有限公司")
        shot(agency, "03_agency_records_reported")
        agency.get_by_role("link", name="广州市荔湾区示范制造有限公司").click()
        expect(agency.get_by_role("alert").or_(agency.locator(".alert-warn"))).to_contain_text("单位反馈银行账户有误")
        agency.get_by_label("银行账号").fill("44037001040099999")
        agency.get_by_label("更正原因").fill("单位提供开户许可证，核实无误")
        shot(agency, "04_agency_correct_account")
        agency.get_by_role("button", name="保存更正").click()
        expect(agency.locator("#bank-account-full")).to_have_text("44037001040099999")
        expect(agency.locator(".refund-head .status")).to_have_text("待确认")
    finally:
        context.close()

    page.reload()
    again = page.locator("section.refund[data-status='pending']")
    expect(again.get_by_test_id("bank-account")).to_have_text("4403*********9999")
    expect(again.get_by_role("link", name="确认返还信息")).to_be_visible()
    shot(page, "05_back_to_pending")
