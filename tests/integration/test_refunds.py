"""The refund business over real HTTP: hrss_isso tokens at the refund API
(their scopes as the ISSO granted them), one confirmation out of twenty
simultaneous ones, the agency's export."""

from __future__ import annotations

import csv
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from devtools.demo_client import isso_tokens
from devtools.stack import StackConfig
from services.refund_portal.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_TOTP, DEMO_YEAR
from tests.chain_helpers import staff_totp
from tests.integration.conftest import CACHE_SECONDS
from tests.oidc_helpers import DEMO_RP

CHALLENGE_ACR = 'acr_values="urn:gdzwfw:loa:L2"'


def refunds(stack: StackConfig, token: str) -> httpx.Response:
    return httpx.get(f"{stack.url('refund_portal')}/api/v1/refunds/me", headers={"Authorization": f"Bearer {token}"})


def current_record(stack: StackConfig, token: str) -> dict:
    body = refunds(stack, token).json()
    return next(r for r in body["records"] if r["year"] == DEMO_YEAR)


def confirm(stack: StackConfig, token: str, record_id: int, **body) -> httpx.Response:
    return httpx.post(
        f"{stack.url('refund_portal')}/api/v1/refunds/{record_id}/confirmation",
        json=body or {"decision": "confirm"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_the_demo_units_refunds_are_served_to_an_l2_token(stack: StackConfig) -> None:
    token = isso_tokens(stack, "demo_l2")["access_token"]
    response = refunds(stack, token)
    assert response.status_code == 200
    body = response.json()
    assert body["uscc"] == "91440104MA5DL2B24P" and body["unit_code"] == "44010400002"
    years = {r["year"]: r for r in body["records"]}
    assert set(years) == {DEMO_YEAR, DEMO_YEAR - 1}
    assert years[DEMO_YEAR]["amount"] == "34574.69" and years[DEMO_YEAR]["amount_in_words"] == "叁万肆仟伍佰柒拾肆元陆角玖分"
    assert years[DEMO_YEAR - 1]["status"] == "paid"
    assert all(r["uscc"] == "91440104MA5DL2B24P" for r in body["records"])


def test_an_l1_token_gets_the_step_up_challenge_at_the_refund_api(stack: StackConfig) -> None:
    token = isso_tokens(stack, "demo_l1")["access_token"]
    for response in (refunds(stack, token), confirm(stack, token, 1)):
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge and CHALLENGE_ACR in challenge


def test_the_scopes_the_isso_granted_decide_what_a_token_may_do(stack: StackConfig) -> None:
    both = isso_tokens(stack, "demo_l2")
    assert set(both["scope"].split()) == {"openid", "profile", "refund.read", "refund.confirm"}
    record = current_record(stack, both["access_token"])
    assert record["status"] == "pending"

    read_only = isso_tokens(stack, "demo_l2", scope="openid profile refund.read")
    assert set(read_only["scope"].split()) == {"openid", "profile", "refund.read"}
    assert refunds(stack, read_only["access_token"]).status_code == 200
    refused = confirm(stack, read_only["access_token"], record["id"])
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="refund.confirm"'

    neither = isso_tokens(stack, "demo_l2", scope="openid profile")["access_token"]
    read = refunds(stack, neither)
    assert read.status_code == 403 and read.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="refund.read"'
    assert confirm(stack, neither, record["id"]).status_code == 403
    assert current_record(stack, both["access_token"])["status"] == "pending"


def test_another_units_token_cannot_confirm_a_record(stack: StackConfig) -> None:
    l2 = isso_tokens(stack, "demo_l2")["access_token"]
    record = current_record(stack, l2)
    l3 = isso_tokens(stack, "demo_l3")["access_token"]
    response = confirm(stack, l3, record["id"])
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert current_record(stack, l2)["status"] == "pending"


def test_twenty_simultaneous_confirmations_exactly_one_succeeds(stack: StackConfig) -> None:
    token = isso_tokens(stack, "demo_l2")["access_token"]
    record = current_record(stack, token)
    assert record["status"] == "pending"
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: confirm(stack, token, record["id"]), range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 19, codes
    assert all(r.json() == {"error": "already_decided", "status": "confirmed"} for r in responses if r.status_code == 409)
    after = current_record(stack, token)
    assert after["status"] == "confirmed" and after["decided_acr"] == "urn:gdzwfw:loa:L2" and after["decided_at"]


def test_a_revoked_token_is_refused_at_the_refund_api_once_the_cache_bound_has_passed(stack: StackConfig) -> None:
    token = isso_tokens(stack, "demo_l3")["access_token"]
    assert refunds(stack, token).status_code == 200
    assert httpx.post(f"{stack.url('hrss_isso')}/isso/revoke", data={"token": token}, auth=DEMO_RP).status_code == 200
    time.sleep(CACHE_SECONDS + 0.2)
    assert refunds(stack, token).status_code == 401
    assert confirm(stack, token, 1).status_code == 401


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_agency_exports_a_record_the_unit_confirmed(stack: StackConfig) -> None:
    token = isso_tokens(stack, "demo_l3")["access_token"]
    record = current_record(stack, token)
    assert confirm(stack, token, record["id"]).status_code == 200
    portal = stack.url("refund_portal")
    with httpx.Client(base_url=portal) as staff:
        page = staff.get("/agency/login")
        logged_in = staff.post(
            "/agency/login",
            data={
                "csrf_token": _csrf(page.text),
                "login_name": "wg_clerk",
                "password": DEMO_STAFF_PASSWORD,
                "totp": staff_totp(DEMO_STAFF_TOTP["wg_clerk"]),
                "next": "/agency/payments",
            },
        )
        assert logged_in.status_code == 303
        payments = staff.get(f"/agency/payments?year={DEMO_YEAR}")
        created = staff.post("/agency/payments", data={"csrf_token": _csrf(payments.text), "year": str(DEMO_YEAR)})
        assert created.status_code == 303 and created.headers["location"].startswith("/agency/payments/")
        export = staff.get(f"{created.headers['location']}/export", params={"format": "csv"})
        assert export.status_code == 200
        rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
        exported = {r[3]: r for r in rows[1:]}
        assert "91440103MA5DL3C31X" in exported
        assert exported["91440103MA5DL3C31X"][8] == "181440.00" and exported["91440103MA5DL3C31X"][9] == "壹拾捌万壹仟肆佰肆拾元整"
        # The audit log verifies after all this traffic.
        staff.post("/agency/logout", data={"csrf_token": _csrf(payments.text)})
        page = staff.get("/agency/login")
        staff.post(
            "/agency/login",
            data={
                "csrf_token": _csrf(page.text),
                "login_name": "wg_auditor",
                "password": DEMO_STAFF_PASSWORD,
                "totp": staff_totp(DEMO_STAFF_TOTP["wg_auditor"]),
            },
        )
        assert "哈希链校验通过" in staff.get("/agency/audit").text
