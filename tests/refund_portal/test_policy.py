"""Amounts follow the year's configured rule: ratio by size, layoff-rate
caps (exact at the boundary), arrears, and exact decimal arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.refund_portal.policy import PolicyBook, UnitFigures, assess
from services.refund_portal.settings import PolicyRule, RefundSettings
from tests.refund_portal.conftest import AUDIT_KEYS

RULE = PolicyRule(year=2026)


def figures(**overrides) -> UnitFigures:
    values = {
        "size": "sme",
        "insured_count": 48,
        "unit_premium_fen": 3841632,
        "staff_premium_fen": 1920816,
        "layoff_count": 2,
        "arrears_fen": 0,
    }
    values.update(overrides)
    return UnitFigures(**values)


def test_sme_gets_sixty_percent_rounded_half_up_to_the_fen() -> None:
    result = assess(RULE, figures())
    assert result.eligible and result.amount_fen == 3457469  # 57,624.48 × 0.60 = 34,574.688
    assert result.basis["premium_total_fen"] == 5762448 and result.basis["ratio"] == "0.60"
    assert result.basis["premium_year"] == 2025


def test_large_enterprise_gets_thirty_percent() -> None:
    result = assess(RULE, figures(size="large", insured_count=420, unit_premium_fen=40320000, staff_premium_fen=20160000, layoff_count=12))
    assert result.amount_fen == 18144000 and result.basis["ratio"] == "0.30"


@pytest.mark.parametrize(
    ("insured", "layoffs", "eligible"),
    [
        (200, 11, True),  # exactly 5.5%
        (200, 12, False),  # 6%
        (1000, 55, True),  # 5.5% exactly
        (1000, 56, False),  # 5.6%
        (30, 6, True),  # a unit of 30 uses the 20% cap: exactly 20%
        (30, 7, False),  # 23.3%
        (31, 2, False),  # 31 insured: back to 5.5% (6.45%)
        (31, 1, True),  # 3.23%
        (1, 0, True),
        (1, 1, False),  # 100%
    ],
)
def test_layoff_rate_cap_at_its_boundaries(insured: int, layoffs: int, eligible: bool) -> None:
    result = assess(RULE, figures(insured_count=insured, layoff_count=layoffs))
    assert result.eligible is eligible
    assert ("layoff_rate" in result.failed) is (not eligible)
    assert (result.amount_fen > 0) is eligible


def test_the_rate_shown_never_rounds_down_onto_the_cap() -> None:
    # 10001 insured, 551 laid off: 5.50945% > 5.5%, shown as 5.51%, not 5.50%
    result = assess(RULE, figures(insured_count=10001, layoff_count=551))
    assert not result.eligible and result.basis["layoff_rate"] == "0.0551"


def test_arrears_disqualify_unless_the_rule_allows_them() -> None:
    assert assess(RULE, figures(arrears_fen=1)).failed == ("arrears",)
    lenient = PolicyRule(year=2026, arrears_allowed=True)
    assert assess(lenient, figures(arrears_fen=1)).eligible


def test_no_premium_means_nothing_to_refund() -> None:
    result = assess(RULE, figures(unit_premium_fen=0, staff_premium_fen=0))
    assert not result.eligible and result.failed == ("no_premium",) and result.amount_fen == 0


def test_every_failed_condition_is_listed_and_the_computed_amount_is_kept_for_the_basis() -> None:
    result = assess(RULE, figures(layoff_count=40, arrears_fen=500))
    assert result.failed == ("layoff_rate", "arrears") and result.amount_fen == 0
    assert result.basis["computed_fen"] == 3457469


def test_rules_are_per_year_and_configurable() -> None:
    book = PolicyBook([PolicyRule(year=2025, ratio_sme=Decimal("0.90")), PolicyRule(year=2026)])
    assert assess(book.rule_for(2025), figures()).amount_fen == 5186203  # 57,624.48 × 0.9 = 51,862.032
    assert assess(book.rule_for(2026), figures()).amount_fen == 3457469
    assert book.rule_for(2027) is None and book.years == [2026, 2025]


def test_ratios_are_never_floats() -> None:
    with pytest.raises(ValidationError):
        PolicyRule(year=2026, ratio_sme=0.6)
    assert PolicyRule(year=2026, ratio_sme="0.6").ratio_sme == Decimal("0.6")


def test_the_rules_come_from_settings_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFUND_POLICY_RULES", '[{"year": 2027, "ratio_sme": "0.75", "layoff_rate_cap": "0.05"}]')
    settings = RefundSettings(
        database_url="sqlite://",
        secret_key="x" * 40,
        public_url="http://p",
        isso_issuer="http://i",
        isso_client_secret="s",
        gdzwfw_verification_url="http://v",
        audit_keys=AUDIT_KEYS,
        staff_totp_keys="t" * 40,
    )
    assert [r.year for r in settings.policy_rules] == [2027]
    assert settings.policy_rules[0].ratio_sme == Decimal("0.75")
    monkeypatch.setenv("REFUND_POLICY_RULES", '[{"year": 2027}, {"year": 2027}]')
    with pytest.raises(ValidationError):
        RefundSettings(
            database_url="sqlite://",
            secret_key="x" * 40,
            public_url="http://p",
            isso_issuer="http://i",
            isso_client_secret="s",
            gdzwfw_verification_url="http://v",
            audit_keys=AUDIT_KEYS,
            staff_totp_keys="t" * 40,
        )
