"""axe-core (WCAG 2.0/2.1 A and AA) on the main pages of the three services,
each at 1280px and 390px: every test walks a journey, audits each page on the
way and fails with every violation it met (rule, impact, element, help).

Reports also go to ``test-artifacts/axe/<test>.json``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.gdzwfw_idp.demo import DEMO_STAFF as GDZWFW_STAFF
from services.gdzwfw_idp.demo import DEMO_STAFF_PASSWORD as GDZWFW_STAFF_PASSWORD
from services.hrss_isso.demo import DEMO_STAFF_TOTP as ISSO_STAFF_TOTP
from services.refund_portal.demo import DEMO_YEAR
from services.refund_portal.models import ImportJob, StaffAccount
from shared.db import Database
from shared.identifiers import _uscc_check_char
from tests.browser.axe import AXE_JS, AxeAudit, run_axe
from tests.browser.gdzwfw_steps import handler_login
from tests.browser.test_login_chain import open_gdzwfw_login, submit_password
from tests.browser.test_refund_confirmation import IMPORT_HEADER, IMPORT_ROWS, staff_login
from tests.chain_helpers import staff_totp

pytestmark = pytest.mark.browser

ISSO_PASSWORD = "Hrss@demo2026"


def fix_uscc(code: str, *, keep_broken: bool) -> str:
    return code if keep_broken else code[:17] + _uscc_check_char(code[:17])


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


def test_gdzwfw_verification_account_and_handler_pages(page: Page, chain, audit: AxeAudit) -> None:
    """实名核验's four ways (网银证书, CA证书, 电子营业执照, 办事大厅现场核验),
    账号安全设置, 我的经办人, and a handler's 选择办理业务的法人 and 为法人办理."""
    open_gdzwfw_login(page, chain)
    submit_password(page, "demo_l1", DEMO_PASSWORD)
    for way in ("bank", "ca", "licence", "hall", "registry"):
        page.goto(f"{chain.idp}/account/verification/{way}")
        audit(page, f"idp_verify_{way}")
    page.goto(f"{chain.idp}/account/security")
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    audit(page, "idp_security")
    page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    page.locator("form[action='/account/security/password'] button[type=submit]").click()
    audit(page, "idp_security_refused")

    page.context.clear_cookies()
    page.goto(f"{chain.idp}/login?tab=legal&method=password")
    submit_password(page, "demo_l2", DEMO_PASSWORD)
    page.goto(f"{chain.idp}/account/handlers")
    expect(page.locator("#handlers")).to_contain_text("陈晓")
    audit(page, "idp_handlers")

    page.context.clear_cookies()
    handler_login(page, chain.idp, "demo_person", DEMO_PASSWORD)
    audit(page, "idp_handler_choose")
    page.get_by_role("button", name="为该法人办理业务").first.click()
    expect(page.locator("main")).to_contain_text("您正以经办人（陈晓）身份")
    audit(page, "idp_acting_for_unit")
    page.goto(f"{chain.idp}/account/handled")
    audit(page, "idp_handled")


def test_staff_consoles_of_both_providers(page: Page, chain, audit: AxeAudit) -> None:
    """The service hall's console at gdzwfw_idp and the agency's review console at the ISSO."""
    officer = GDZWFW_STAFF[0]
    page.goto(f"{chain.idp}/staff/login")
    audit(page, "idp_staff_login")
    page.get_by_label("工号").fill(officer["login_name"])
    page.get_by_label("密码").fill(GDZWFW_STAFF_PASSWORD)
    page.get_by_label("动态口令").fill(staff_totp(officer["secret"]))
    page.get_by_role("button", name="登录").click()
    page.get_by_label("查询法人").fill("91440106MA5DL1A170")
    page.get_by_role("button", name="查询").click()
    audit(page, "idp_staff_console")
    page.get_by_role("link", name="办理").first.click()
    expect(page.get_by_role("heading", name=re.compile("^现场核验 · "))).to_be_visible()
    audit(page, "idp_staff_unit")

    isso = f"{chain.isso}/isso"
    page.goto(f"{isso}/staff/login")
    audit(page, "isso_staff_login")
    page.fill("#login_name", "staff_review")
    page.fill("#password", ISSO_PASSWORD)
    page.fill("#totp", staff_totp(ISSO_STAFF_TOTP["staff_review"]))
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator("#staff-applications")).to_be_visible()
    audit(page, "isso_staff_applications")
    page.locator("#staff-applications").get_by_role("link", name="审核").first.click()
    expect(page.locator("#materials")).to_be_visible()
    audit(page, "isso_staff_application")
    page.goto(f"{isso}/staff/window")
    audit(page, "isso_staff_window")


def test_isso_login_ways_unit_registration_and_choose_unit_dialog(page: Page, chain, audit: AxeAudit) -> None:
    """The ISSO's 省统一身份认证 tabs, 单位注册 step 2 empty and refused, and the
    选择单位 dialog reached from the portal (naming the client)."""
    isso = f"{chain.isso}/isso"
    for tab in ("unit", "personal"):
        page.goto(f"{isso}/login?tab={tab}&method=gdzwfw")
        audit(page, f"isso_login_{tab}_gdzwfw")
    page.goto(f"{isso}/register/unit")
    page.fill("#login_name", "chenxiao")
    page.fill("#id_number", "440106199007150041")
    page.locator("#step1-next").click()
    expect(page).to_have_url(re.compile(r"/isso/register/unit/info"))
    audit(page, "isso_unit_register_step2")
    page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    page.locator("#unit-register-submit").click()
    expect(page.locator(".field-error, .alert-error").first).to_be_visible()
    audit(page, "isso_unit_register_step2_errors")

    page.context.clear_cookies()
    page.goto(f"{chain.portal}/")
    page.locator("#login").click()
    page.locator("nav.tabs").get_by_role("link", name="个人登录", exact=True).click()
    page.get_by_role("tab", name="账号密码", exact=True).click()
    page.fill("#login_name", "chenxiao")
    page.fill("#password", ISSO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("dialog")).to_contain_text("您正在登录")
    audit(page, "isso_choose_unit_for_portal")


def test_agency_import_results_and_payment_batches(page: Page, chain, audit: AxeAudit, tmp_path) -> None:
    """A refused import with its row errors, the batch of good rows, and a payment batch."""
    staff_login(page, chain, "wg_supervisor")
    page.goto(f"{chain.portal}/agency/imports")
    file = tmp_path / "名单.csv"
    # Units of its own (valid codes, bar the second row's check character), so
    # the import journey in test_refund_confirmation still finds its rows new.
    rows = [row.replace("91440101", "91440111").replace(",44010100", ",44011100") for row in IMPORT_ROWS]
    rows = [",".join([fix_uscc(r.split(",")[0], keep_broken=i == 1), *r.split(",")[1:]]) for i, r in enumerate(rows)]
    file.write_text("\n".join([IMPORT_HEADER, *rows]), encoding="utf-8-sig")
    page.locator("#year").select_option(str(DEMO_YEAR))
    page.locator("#file").set_input_files(str(file))
    page.locator("#upload").click()
    expect(page.locator("#import-refused")).to_be_visible()
    audit(page, "agency_import_refused")
    page.locator("#acknowledge").check()
    page.locator("#import-good-rows").click()
    expect(page.locator("#import-done")).to_be_visible()
    audit(page, "agency_import_batch")
    page.goto(f"{chain.portal}/agency/payments?year={DEMO_YEAR - 1}")
    page.locator("a[href^='/agency/payments/']").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^拨付批次 \d+"))).to_be_visible()
    audit(page, "agency_payment_batch")


def test_agency_import_job_while_it_runs(page: Page, chain, audit: AxeAudit) -> None:
    """The page of an import still reading its rows: audited at both widths,
    and its counts move as the job's do, without reloading the page."""
    staff_login(page, chain, "wg_clerk")
    # A job caught half-way cannot be held still by uploading a file (a
    # 20,000-row list is read in a few seconds here), so the test writes the
    # state a worker would have written, and moves it on as the worker would.
    db = Database(chain.databases["refund_portal"])
    try:
        job_id = f"job{secrets.token_hex(8)}"
        now = dt.datetime.now(dt.UTC)
        with db.transaction() as s:
            staff_id = s.scalar(select(StaffAccount.id).where(StaffAccount.login_name == "wg_clerk"))
            s.add(
                ImportJob(
                    id=job_id, staff_id=staff_id, upload_id="kept", filename="2026年度稳岗返还名单.xlsx", year=DEMO_YEAR,
                    mode="all", state="reading", rows_total=20000, rows_read=7400, error_rows=3, created_at=now, updated_at=now,
                )
            )  # fmt: skip
        page.goto(f"{chain.portal}/agency/imports/jobs/{job_id}")
        expect(page.get_by_role("heading", name="正在导入名单")).to_be_visible()
        expect(page.locator("#rows-read")).to_have_text("7400")
        expect(page.locator("#job-progress")).to_have_attribute("value", "7400")
        expect(page.locator("#step-reading")).to_have_class("current")
        expect(page.locator("#step-reading")).to_have_attribute("aria-current", "step")
        expect(page.locator("#writing-note")).to_be_hidden()
        audit(page, "agency_import_job_reading")
        with db.transaction() as s:
            s.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(state="writing", rows_read=20000, error_rows=0, updated_at=dt.datetime.now(dt.UTC))
            )
        expect(page.locator("#rows-read")).to_have_text("20000", timeout=15_000)
        expect(page.locator("#writing-note")).to_be_visible()
        expect(page.locator("#job-status")).to_contain_text("正在写入")
        expect(page.locator("#step-writing")).to_have_class("current")
        expect(page.locator("#step-reading")).to_have_class("done")
        audit(page, "agency_import_job_writing")
    finally:
        db.dispose()
