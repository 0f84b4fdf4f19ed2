"""How a unit's 稳岗返还 amount is computed from a year's rule.

The amount is last year's unemployment-insurance premiums actually paid by
the unit and its staff, times the rule's ratio for the unit's size (中小微企业
60%, 大型企业 30% by default), rounded half up to the fen; a unit that laid off
more than the cap allows, or is in arrears, gets nothing. All arithmetic is on
integer fen and exact decimals. The result carries its own basis (the rule's
figures as applied), so a record explains its amount even after the
configured rule changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from services.refund_portal.settings import PolicyRule
from shared.money import apply_ratio

__all__ = ["SIZES", "UnitFigures", "Assessment", "PolicyBook", "assess"]

Size = Literal["large", "sme"]
SIZES: tuple[Size, ...] = ("large", "sme")


@dataclass(frozen=True)
class UnitFigures:
    """The figures of one row of the eligibility list (免申即享名单)."""

    size: Size
    insured_count: int
    unit_premium_fen: int
    staff_premium_fen: int
    layoff_count: int
    arrears_fen: int


@dataclass(frozen=True)
class Assessment:
    eligible: bool
    amount_fen: int
    # Reasons a unit is not refunded, as codes (messages.INELIGIBLE has the text).
    failed: tuple[str, ...]
    basis: dict[str, Any] = field(compare=False)


def _rate_text(value: Decimal) -> str:
    return format(value, "f")


def assess(rule: PolicyRule, figures: UnitFigures) -> Assessment:
    """Apply ``rule`` to one unit's figures."""
    if figures.size not in SIZES:
        raise ValueError(f"unknown size {figures.size!r}")
    if figures.insured_count <= 0:
        raise ValueError("insured_count must be positive")
    premium_total = figures.unit_premium_fen + figures.staff_premium_fen
    ratio = rule.ratio_sme if figures.size == "sme" else rule.ratio_large
    small = figures.insured_count <= rule.small_unit_headcount
    cap = rule.small_unit_layoff_rate_cap if small else rule.layoff_rate_cap
    # Exact comparison: layoffs / insured <= cap  ⇔  layoffs <= cap × insured.
    layoff_ok = Decimal(figures.layoff_count) <= cap * figures.insured_count
    # Shown rounded up, so a rate just over the cap never reads as equal to it.
    layoff_rate = (Decimal(figures.layoff_count) / Decimal(figures.insured_count)).quantize(Decimal("0.0001"), rounding=ROUND_CEILING)
    failed: list[str] = []
    if premium_total <= 0:
        failed.append("no_premium")
    if not layoff_ok:
        failed.append("layoff_rate")
    if figures.arrears_fen > 0 and not rule.arrears_allowed:
        failed.append("arrears")
    computed = apply_ratio(premium_total, ratio)
    amount = 0 if failed else computed
    basis = {
        "rule_year": rule.year,
        "premium_year": rule.year - 1,
        "size": figures.size,
        "ratio": _rate_text(ratio),
        "unit_premium_fen": figures.unit_premium_fen,
        "staff_premium_fen": figures.staff_premium_fen,
        "premium_total_fen": premium_total,
        "computed_fen": computed,
        "insured_count": figures.insured_count,
        "layoff_count": figures.layoff_count,
        "layoff_rate": _rate_text(layoff_rate),
        "layoff_rate_cap": _rate_text(cap),
        "small_unit": small,
        "small_unit_headcount": rule.small_unit_headcount,
        "arrears_fen": figures.arrears_fen,
        "arrears_allowed": rule.arrears_allowed,
        "failed": failed,
    }
    return Assessment(eligible=not failed, amount_fen=amount, failed=tuple(failed), basis=basis)


class PolicyBook:
    """The configured rules, by year."""

    def __init__(self, rules: Iterable[PolicyRule]) -> None:
        self._rules = {r.year: r for r in rules}

    def rule_for(self, year: int) -> PolicyRule | None:
        return self._rules.get(year)

    @property
    def years(self) -> list[int]:
        return sorted(self._rules, reverse=True)
