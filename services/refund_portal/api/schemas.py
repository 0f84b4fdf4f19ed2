"""The API's bodies (OpenAPI schemas) and its documented refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.refund_portal.admission import ScopeNeed
from services.refund_portal.decisions import NOTE_LIMIT

__all__ = ["UNAUTHORIZED", "refused", "Me", "Basis", "Refund", "MyRefunds", "ConfirmationRequest", "ApiError"]

UNAUTHORIZED = {
    401: {
        "description": "no bearer token (`WWW-Authenticate: Bearer`, no error code), "
        'invalid_token (`WWW-Authenticate: Bearer error="invalid_token"`), or below L2 the RFC 9470 challenge '
        '`Bearer error="insufficient_user_authentication", acr_values="urn:gdzwfw:loa:L2"`'
    },
    503: {"description": "hrss_isso could not be asked (introspection unavailable); retry later"},
}


def refused(need: ScopeNeed) -> dict[int | str, dict[str, Any]]:
    """UNAUTHORIZED, and the RFC 6750 §3.1 answer to a token not issued for ``need``."""
    accepted = " or ".join(f"`{s}`" for s in [need.scope, *sorted(need.accepted - {need.scope})])
    return {
        **UNAUTHORIZED,
        403: {
            "model": ApiError,
            "description": f"insufficient_scope: the token (L2 or higher) was not issued with {accepted} "
            f'(`WWW-Authenticate: Bearer error="insufficient_scope", scope="{need.scope}"`)',
        },
    }


class Me(BaseModel):
    sub: str
    org_name: str | None
    uscc: str | None
    unit_code: str | None
    trust_level: str
    acr: str
    act: dict | None = None


class Basis(BaseModel):
    """How the amount was computed (the year's rule as applied)."""

    rule_year: int = Field(description="Refund year whose rule was applied.")
    premium_year: int = Field(description="Year whose premiums and layoffs count (the year before).")
    size: Literal["large", "sme"] = Field(description="大型企业 or 中小微企业.")
    ratio: str = Field(description='Refund ratio, an exact decimal, e.g. "0.60".')
    unit_premium_fen: int
    staff_premium_fen: int
    premium_total_fen: int
    computed_fen: int = Field(description="premium_total × ratio, rounded half up to the fen.")
    insured_count: int
    layoff_count: int
    layoff_rate: str
    layoff_rate_cap: str
    arrears_fen: int
    failed: list[str] = Field(description="Conditions not met: no_premium, layoff_rate, arrears. Empty when eligible.")


class Refund(BaseModel):
    id: int
    year: int = Field(description="Refund year (年度).")
    status: Literal["pending", "account_reported", "confirmed", "paid", "declined", "ineligible"] = Field(
        description="pending 待确认, account_reported 账户待核实, confirmed 已确认, paid 已发放, declined 已放弃, ineligible 不符合条件."
    )
    status_label: str
    org_name: str
    uscc: str
    unit_code: str
    amount_fen: int = Field(description="The refund in integer fen (分).")
    amount: str = Field(description='The refund in yuan as an exact decimal string, e.g. "34574.69".')
    amount_in_words: str = Field(description="The amount in 中文大写, as on official forms.")
    basis: Basis
    bank_name: str
    bank_account_masked: str
    decided_at: dt.datetime | None = None
    decided_by_name: str | None = None
    decided_acr: str | None = None
    paid_at: dt.datetime | None = None


class MyRefunds(BaseModel):
    uscc: str | None
    unit_code: str | None
    records: list[Refund]


class ConfirmationRequest(BaseModel):
    decision: Literal["confirm", "decline", "report_account"] = Field(
        default="confirm", description="confirm 确认, decline 放弃 (note required), report_account 银行账户有误 (note required)."
    )
    note: str = Field(default="", max_length=NOTE_LIMIT, description="The reason or remark (up to 200 characters).")


class ApiError(BaseModel):
    error: str
    error_description: str | None = None
    status: str | None = None
