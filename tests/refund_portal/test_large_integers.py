"""Ids and years beyond what the database's integer holds (2147483648 for
PostgreSQL's ``integer``, 10**23 for SQLite's 64 bits) are refused with the
usual page, or JSON under /api/, never a 500."""

from __future__ import annotations

import pytest

from tests.refund_portal.conftest import UNIT_L2, Env

TOO_LARGE = [2**31, 10**23]


@pytest.mark.parametrize("number", TOO_LARGE)
@pytest.mark.parametrize(
    "path",
    [
        "/agency/records/{n}",
        "/agency/payments/{n}",
        "/agency/imports/{n}",
        "/agency/?year={n}",
        "/agency/records?year={n}",
        "/agency/payments?year={n}",
        "/agency/records?page_no={n}",
    ],
)
def test_agency_pages_refuse_too_large_numbers(env: Env, path: str, number: int) -> None:
    env.login_staff("wg_supervisor")
    response = env.client.get(path.format(n=number))
    assert response.status_code in (400, 404) and "无法完成操作" in response.text


@pytest.mark.parametrize("number", TOO_LARGE)
def test_the_audit_log_refuses_too_large_numbers(env: Env, number: int) -> None:
    env.login_staff("wg_auditor")
    for query in ("before", "record"):
        response = env.client.get("/agency/audit", params={query: number})
        assert response.status_code == 400 and "无法完成操作" in response.text


@pytest.mark.parametrize("number", TOO_LARGE)
def test_the_unit_decision_page_refuses_too_large_numbers(env: Env, number: int) -> None:
    env.login_unit(UNIT_L2)
    response = env.client.get(f"/refunds/{number}/decide")
    assert response.status_code in (400, 404) and "无法完成操作" in response.text


@pytest.mark.parametrize("number", TOO_LARGE)
def test_the_confirmation_api_refuses_too_large_numbers(env: Env, number: int) -> None:
    token = env.isso.issue("tok-l2", unit=UNIT_L2)
    response = env.client.post(
        f"/api/v1/refunds/{number}/confirmation", json={"decision": "confirm"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (400, 404) and response.headers["content-type"].startswith("application/json")
