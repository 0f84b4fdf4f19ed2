"""概览 · 本年度办理分析: the figures behind the charts, from real records,
and the overview page drawing them as SVG with a table each, filtered by year
and district through a plain GET form."""

from __future__ import annotations

import re

from services.refund_portal.agency.charts import nice_ceiling
from services.refund_portal.agency.insight import WAIT_BUCKETS, season_insight
from shared.divisions import division_name
from tests.refund_portal.conftest import ROW_L1, ROW_L2, ROW_L3, UNIT_L2, UNIT_L3, Env
from tests.refund_portal.test_agency import confirm

DAY = 24 * 3600


def test_division_names_come_from_the_province_list() -> None:
    assert division_name("440104") == "广州市越秀区"
    assert division_name("441900") == "东莞市"
    assert division_name("440101") == "广州市"  # a city's own code (市辖区)
    assert division_name("110101") is None


def test_scales_are_round_numbers() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 19, 180_000)] == [1, 1, 5, 10, 20, 200_000]


def test_the_season_by_month_district_rate_and_time_to_confirm(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3, ROW_L1])  # imported "now": 2026-11-28 (Beijing 09:00)
    env.clock.advance(10 * DAY)
    confirm(env, UNIT_L2)  # 10 days later, in December
    env.clock.advance(30 * DAY)  # into the next year: outside 2026's months
    confirm(env, UNIT_L3)

    insight = season_insight(env.db, year=2026)
    assert insight.by_month["imported"][10] == 3 and sum(insight.by_month["imported"]) == 3
    assert insight.by_month["confirmed"][11] == 1 and sum(insight.by_month["confirmed"]) == 1
    assert [code for code, _ in insight.districts] == ["440103", "440104", "440106"]
    names = [row.name for row in insight.by_district]
    assert names == ["广州市荔湾区", "广州市越秀区", "广州市天河区"]  # by amount, largest first
    assert (insight.eligible, insight.confirmed, round(insight.rate, 3)) == (3, 2, 0.667)
    waits = dict(zip([label for label, _, _ in WAIT_BUCKETS], insight.waits, strict=True))
    assert waits["8–14天"] == 1 and waits["31–60天"] == 1 and insight.median_days == 25

    only = season_insight(env.db, year=2026, district="440104")
    assert [row.name for row in only.by_district] == ["广州市越秀区"]
    assert (only.eligible, only.confirmed) == (1, 1)
    # The filter still offers every district of the year.
    assert [code for code, _ in only.districts] == ["440103", "440104", "440106"]


def test_the_overview_draws_accessible_charts_and_filters_without_script(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3, ROW_L1])
    confirm(env, UNIT_L2)
    env.login_staff("wg_auditor")
    page = env.client.get("/agency/", params={"year": 2026}).text
    charts = re.findall(r'<svg class="chart-svg"[^>]*role="img" aria-labelledby="([\w-]+)-title \1-desc"', page)
    assert charts == ["chart-months", "chart-districts", "chart-rates", "chart-waits"]
    assert "<script" not in page.split("</head>")[1] and "style=" not in page
    districts = page.split('id="chart-districts-table"')[1].split("</table>")[0]
    assert re.search(r"<th scope=\"row\">广州市越秀区</th><td class=\"num\">1</td><td class=\"num\">34,574.69</td>", districts)
    assert 'id="confirm-rate">33.3%<' in page

    # The filter is a GET form: its URL alone narrows the page to one district.
    assert re.search(r'<form method="get" action="/agency/" class="filters"', page)
    narrowed = env.client.get("/agency/", params={"year": 2026, "district": "440103"}).text
    table = narrowed.split('id="chart-districts-table"')[1].split("</table>")[0]
    assert "广州市荔湾区" in table and "广州市越秀区" not in table
    assert '<option value="440103" selected>广州市荔湾区</option>' in narrowed
    assert 'id="confirm-rate">0.0%<' in narrowed
    # A district that is not a division code is refused with the validation page.
    refused = env.client.get("/agency/", params={"year": 2026, "district": "<x>"})
    assert refused.status_code == 400 and "提交的信息不完整或格式不正确" in refused.text
