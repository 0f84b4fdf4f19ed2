"""Bar charts as geometry for server-rendered SVG (``agency/_charts.html``
draws them): no script, no inline style — colours come from classes in
refund.css, so the pages' ``script-src 'self'; style-src 'self'`` holds.

Each chart carries its title and a one-sentence description (the SVG's
accessible name and description); the page puts the same figures in a table
beside it for anyone who cannot read a picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Chart", "Bar", "Tick", "nice_ceiling", "column_chart", "row_chart"]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # series-N: the colour, from refund.css
    text: str  # the figure, drawn at the bar's end and given as its <title>


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    value_ticks: list[Tick] = field(default_factory=list)  # the scale with its grid lines
    category_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, label)
    plot: tuple[float, float, float, float] = (0, 0, 0, 0)  # left, top, right, bottom
    horizontal: bool = False


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (1 for nothing): a scale people read at a glance."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def _scale_ticks(top: float, fmt) -> list[tuple[float, str]]:
    return [(top * i / 4, fmt(top * i / 4)) for i in range(5)]


def column_chart(
    id: str, title: str, desc: str, categories: list[str], series: list[tuple[str, list[int]]], *, fmt=lambda v: f"{v:g}"
) -> Chart:
    """Vertical bars of counts, one group per category, one bar per series in each group."""
    width, height = 720, 300
    left, top, right, bottom = 56, 16, width - 12, height - 40
    chart = Chart(id=id, title=title, desc=desc, width=width, height=height, plot=(left, top, right, bottom))
    # Four steps of a round size; whole ones, as the figures are counts.
    step = max(math.ceil(nice_ceiling(max((v for _, values in series for v in values), default=0) / 4)), 1)
    peak = step * 4
    band = (right - left) / max(len(categories), 1)
    bar_w = min(band * 0.8 / max(len(series), 1), 28)
    for value, text in _scale_ticks(peak, fmt):
        chart.value_ticks.append(Tick(x=left - 6, y=bottom - (bottom - top) * value / peak, text=text))
    for c, name in enumerate(categories):
        group_left = left + band * c + (band - bar_w * len(series)) / 2
        chart.category_ticks.append(Tick(x=left + band * (c + 0.5), y=bottom + 18, text=name))
        for s, (_, values) in enumerate(series):
            h = (bottom - top) * values[c] / peak
            chart.bars.append(
                Bar(x=group_left + bar_w * s, y=bottom - h, width=bar_w - 2, height=h, css=f"series-{s}", text=fmt(values[c]))
            )
    chart.legend = [(f"series-{s}", label) for s, (label, _) in enumerate(series)]
    return chart


def row_chart(id: str, title: str, desc: str, rows: list[tuple[str, float, str]]) -> Chart:
    """Horizontal bars, one per row (label, value, the value as written)."""
    row_h, label_w = 30, 150
    width = 720
    left, top, right = label_w, 8, width - 130
    height = top + row_h * max(len(rows), 1) + 8
    chart = Chart(id=id, title=title, desc=desc, width=width, height=height, plot=(left, top, right, height - 8), horizontal=True)
    peak = max((v for _, v, _ in rows), default=0) or 1
    for i, (label, value, text) in enumerate(rows):
        y = top + row_h * i
        chart.category_ticks.append(Tick(x=left - 8, y=y + row_h / 2 + 5, text=label))
        chart.bars.append(Bar(x=left, y=y + 5, width=max((right - left) * value / peak, 1), height=row_h - 10, css="series-0", text=text))
    return chart
