"""The season at a glance for the agency's overview: what a supervisor asks
of a year's refunds — how the records moved month by month, where the money
goes by district, how many units have confirmed, and how long they took.

:func:`season_insight` reads the figures (for one year, optionally one
district); :mod:`services.refund_portal.agency.charts` draws them. A unit's
district is the division code inside its 统一社会信用代码 (digits 3–8), named
from the province's division list.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from services.refund_portal.agency.charts import column_chart, row_chart
from services.refund_portal.models import RecordStatus, RefundRecord
from shared.clock import BEIJING, as_utc
from shared.db import Database
from shared.divisions import division_name, uscc_division
from shared.money import format_fen

__all__ = [
    "Insight",
    "DistrictRow",
    "season_insight",
    "district_label",
    "months_in_use",
    "overview_charts",
    "percent",
    "SERIES_LABELS",
    "WAIT_BUCKETS",
]

# Days from the list's publication to the unit's confirmation, as the agency reports them.
WAIT_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("7天内", 0, 7),
    ("8–14天", 8, 14),
    ("15–30天", 15, 30),
    ("31–60天", 31, 60),
    ("60天以上", 61, None),
)
CONFIRMED = (RecordStatus.CONFIRMED, RecordStatus.PAID)


def district_label(code: str) -> str:
    return division_name(code) or f"其他地区（{code}）"


@dataclass
class DistrictRow:
    code: str
    name: str
    records: int = 0
    amount_fen: int = 0
    eligible: int = 0
    confirmed: int = 0

    @property
    def rate(self) -> float | None:
        return self.confirmed / self.eligible if self.eligible else None


@dataclass
class Insight:
    year: int
    district: str  # "" = every district
    districts: list[tuple[str, str]]  # the year's districts (code, name), for the filter
    months: list[str]  # "1月" … "12月"
    # month index → counts of records imported, confirmed, paid, declined that month
    by_month: dict[str, list[int]] = field(default_factory=dict)
    by_district: list[DistrictRow] = field(default_factory=list)
    eligible: int = 0
    confirmed: int = 0
    waits: list[int] = field(default_factory=list)  # per bucket of WAIT_BUCKETS
    median_days: float | None = None

    @property
    def rate(self) -> float | None:
        return self.confirmed / self.eligible if self.eligible else None

    @property
    def empty(self) -> bool:
        return not any(row.records for row in self.by_district)


def _month(value: dt.datetime | None, year: int) -> int | None:
    """The month (0–11) of ``year`` in Beijing time; None outside it."""
    if value is None:
        return None
    local = as_utc(value).astimezone(BEIJING)
    return local.month - 1 if local.year == year else None


def _bucket(days: int) -> int:
    for i, (_, low, high) in enumerate(WAIT_BUCKETS):
        if days >= low and (high is None or days <= high):
            return i
    return len(WAIT_BUCKETS) - 1


def season_insight(db: Database, *, year: int, district: str = "") -> Insight:
    division = func.substr(RefundRecord.uscc, 3, 6)
    with db.transaction() as s:
        query = select(
            RefundRecord.uscc,
            RefundRecord.status,
            RefundRecord.amount_fen,
            RefundRecord.created_at,
            RefundRecord.decided_at,
            RefundRecord.paid_at,
        ).where(RefundRecord.year == year)
        if district:
            query = query.where(division == district)
        rows = s.execute(query).all()
        # The filter offers every district of the year: the rows tell them,
        # unless they are one district's already.
        if district:
            codes = set(s.scalars(select(division).where(RefundRecord.year == year).distinct()))
        else:
            codes = {uscc_division(uscc) for uscc, *_ in rows}

    districts = sorted(((c, district_label(c)) for c in codes), key=lambda pair: pair[0])
    insight = Insight(year=year, district=district, districts=districts, months=[f"{m}月" for m in range(1, 13)])
    series = {name: [0] * 12 for name in ("imported", "confirmed", "paid", "declined")}
    per_district: dict[str, DistrictRow] = {}
    waits: Counter[int] = Counter()
    days_taken: list[int] = []
    for uscc, status, amount_fen, created_at, decided_at, paid_at in rows:
        code = uscc_division(uscc)
        row = per_district.get(code) or per_district.setdefault(code, DistrictRow(code=code, name=district_label(code)))
        row.records += 1
        row.amount_fen += amount_fen
        for name, when in (("imported", created_at), ("paid", paid_at)):
            if (m := _month(when, year)) is not None:
                series[name][m] += 1
        if status == RecordStatus.INELIGIBLE:
            continue
        row.eligible += 1
        if status == RecordStatus.DECLINED and (m := _month(decided_at, year)) is not None:
            series["declined"][m] += 1
        if status in CONFIRMED and decided_at is not None:
            row.confirmed += 1
            if (m := _month(decided_at, year)) is not None:
                series["confirmed"][m] += 1
            days = max((as_utc(decided_at) - as_utc(created_at)).days, 0)
            waits[_bucket(days)] += 1
            days_taken.append(days)
    insight.by_month = series
    insight.by_district = sorted(per_district.values(), key=lambda r: (-r.amount_fen, r.code))
    insight.eligible = sum(r.eligible for r in per_district.values())
    insight.confirmed = sum(r.confirmed for r in per_district.values())
    insight.waits = [waits[i] for i in range(len(WAIT_BUCKETS))]
    insight.median_days = statistics.median(days_taken) if days_taken else None
    return insight


# What the month chart's series are called, in its legend and table.
SERIES_LABELS = {"imported": "导入名单", "confirmed": "单位确认", "paid": "资金发放", "declined": "单位放弃"}


def months_in_use(insight: Insight) -> list[int]:
    """The months from the first with any activity to the last (all twelve when none)."""
    active = [m for m in range(12) if any(values[m] for values in insight.by_month.values())]
    return list(range(active[0], active[-1] + 1)) if active else list(range(12))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def overview_charts(insight: Insight) -> list[dict]:
    """The overview's four charts, each with the table of its figures:
    ``{"chart": Chart, "caption", "head": [...], "rows": [[...], ...]}``."""
    scope = f"{insight.year}年度" + (f"·{district_label(insight.district)}" if insight.district else "")
    months = months_in_use(insight)
    month_names = [insight.months[m] for m in months]
    series = [(SERIES_LABELS[key], [insight.by_month[key][m] for m in months]) for key in SERIES_LABELS]
    busiest = max(range(len(months)), key=lambda i: series[1][1][i]) if any(series[1][1]) else None
    monthly = column_chart(
        "chart-months",
        f"{scope}各月办理情况（条）",
        "按月统计导入名单、单位确认、资金发放和单位放弃的记录数"
        + (f"；单位确认最多的是{month_names[busiest]}，{series[1][1][busiest]}条。" if busiest is not None else "；尚无单位确认。"),
        month_names,
        series,
        fmt=lambda v: f"{v:g}",
    )
    districts = insight.by_district
    amounts = row_chart(
        "chart-districts",
        f"{scope}各地区返还金额（元）",
        f"共{len(districts)}个地区"
        + (f"，金额最多的是{districts[0].name}，¥{format_fen(districts[0].amount_fen)}元。" if districts else "，尚无记录。"),
        [(r.name, r.amount_fen, f"¥{format_fen(r.amount_fen)}") for r in districts],
    )
    rated = [r for r in districts if r.eligible]
    rates = row_chart(
        "chart-rates",
        f"{scope}各地区确认率",
        f"应确认{insight.eligible}条，已确认{insight.confirmed}条，确认率{percent(insight.rate)}。",
        [(r.name, r.rate or 0, percent(r.rate)) for r in rated],
    )
    waits = column_chart(
        "chart-waits",
        f"{scope}单位确认用时（条）",
        f"从名单导入到单位确认的天数；已确认{insight.confirmed}条"
        + (f"，中位数{insight.median_days:g}天。" if insight.median_days is not None else "。"),
        [label for label, _, _ in WAIT_BUCKETS],
        [("已确认记录", insight.waits)],
    )
    return [
        {
            "chart": monthly,
            "caption": monthly.title,
            "head": ["月份", *SERIES_LABELS.values()],
            "rows": [[name, *(values[i] for _, values in series)] for i, name in enumerate(month_names)],
        },
        {
            "chart": amounts,
            "caption": amounts.title,
            "head": ["地区", "记录数", "返还金额（元）"],
            "rows": [[r.name, r.records, format_fen(r.amount_fen)] for r in districts],
        },
        {
            "chart": rates,
            "caption": rates.title,
            "head": ["地区", "应确认", "已确认", "确认率"],
            "rows": [[r.name, r.eligible, r.confirmed, percent(r.rate)] for r in rated],
        },
        {
            "chart": waits,
            "caption": waits.title,
            "head": ["确认用时", "记录数"],
            "rows": [[label, n] for (label, _, _), n in zip(WAIT_BUCKETS, insight.waits, strict=True)],
        },
    ]
