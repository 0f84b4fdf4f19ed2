"""The agency overview's charts in Chromium, from the stack's demo records:
four SVG images with accessible names, a table behind each, and the year and
district filters working with scripts switched off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.refund_portal.demo import DEMO_YEAR
from tests.browser.conftest import DESKTOP
from tests.browser.test_refund_confirmation import staff_login

pytestmark = pytest.mark.browser


def test_overview_charts_render_from_the_records_and_filter_without_javascript(chromium, chain, shot) -> None:
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai", java_script_enabled=False)
    try:
        page = context.new_page()
        staff_login(page, chain, "wg_supervisor")
        page.goto(f"{chain.portal}/agency/?year={DEMO_YEAR}")
        charts = page.get_by_role("img", name=f"{DEMO_YEAR}年度各地区返还金额（元）")
        expect(charts).to_be_visible()
        for name in ("各月办理情况（条）", "各地区确认率", "单位确认用时（条）"):
            expect(page.get_by_role("img", name=f"{DEMO_YEAR}年度{name}")).to_be_visible()
        # The bars are drawn from the records: one per district with records, 荔湾's the demo amount
        # (other tests of this stack import units in other districts; none changes an amount).
        bars = page.locator("#chart-districts rect.bar")
        assert bars.count() >= 3
        assert "¥181,440.00" in page.locator("#chart-districts text.value").all_text_contents()
        shot(page, "01_overview_charts")

        table = page.locator("#chart-districts-table")
        page.locator("#chart-districts summary").click()
        expect(table.get_by_role("row", name="广州市荔湾区 1 181,440.00")).to_be_visible()
        expect(table.locator("tbody tr")).to_have_count(bars.count())

        # The district filter: a GET form, no script needed.
        page.locator("#district").select_option(label="广州市荔湾区")
        page.locator("#apply-filters").click()
        expect(page).to_have_url(f"{chain.portal}/agency/?year={DEMO_YEAR}&district=440103")
        expect(page.get_by_role("heading", name="本年度办理分析 · 广州市荔湾区")).to_be_visible()
        expect(page.locator("#chart-districts rect.bar")).to_have_count(1)
        assert page.locator("#chart-districts text.value").all_text_contents() == ["¥181,440.00"]
        shot(page, "02_overview_one_district")
    finally:
        context.close()
