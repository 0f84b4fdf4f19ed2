"""``GET /api/v1/refunds/me`` and ``POST /api/v1/refunds/{id}/confirmation``:
bearer tokens introspected at hrss_isso (faked at the transport), L2
enforced with the RFC 9470 challenge, the scopes refund.read / refund.confirm
with RFC 6750's insufficient_scope, one decision per record."""

from __future__ import annotations

import pytest
from joserfc.jwk import thumbprint
from sqlalchemy import select
from starlette.testclient import TestClient

from services.refund_portal.models import AuditEntry, RefundRecord
from shared.web.fastlane import ServiceApp
from tests.oidc_helpers import client_key, dpop_proof
from tests.refund_portal.conftest import HANDLER, L1, L3, PORTAL, ROW_L2, ROW_L3, UNIT_L1, UNIT_L2, UNIT_L3, Env

KEY_A, KEY_B = client_key("integrator-a"), client_key("integrator-b")

CHALLENGE = (
    'Bearer error="insufficient_user_authentication", error_description="A trust level of L2 or higher is required", '
    'acr_values="urn:gdzwfw:loa:L2"'
)
NEEDS_READ = 'Bearer error="insufficient_scope", scope="refund.read"'
NEEDS_CONFIRM = 'Bearer error="insufficient_scope", scope="refund.confirm"'
# RFC 6750 §3.1 and RFC 9449 §7.1: no credentials, one bare challenge per scheme the API takes.
BARE_CHALLENGE = 'Bearer, DPoP algs="PS256 ES256 Ed25519 EdDSA RS256"'


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rid_of(env: Env, uscc: str) -> int:
    with env.db.transaction() as s:
        return s.execute(select(RefundRecord.id).where(RefundRecord.uscc == uscc)).scalar_one()


def status_of(env: Env, rid: int) -> str:
    with env.db.transaction() as s:
        return s.get(RefundRecord, rid).status


@pytest.fixture
def records(env: Env) -> Env:
    env.import_rows([ROW_L2, ROW_L3])
    return env


def test_my_refunds_lists_only_the_units_records_with_amount_words_basis_and_masked_account(records: Env) -> None:
    token = records.isso.issue("tok-l2", unit=UNIT_L2)
    response = records.client.get("/api/v1/refunds/me", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body["uscc"] == UNIT_L2["uscc"] and len(body["records"]) == 1
    record = body["records"][0]
    assert record["amount_fen"] == 3457469 and record["amount"] == "34574.69"
    assert record["amount_in_words"] == "叁万肆仟伍佰柒拾肆元陆角玖分"
    assert record["status"] == "pending" and record["status_label"] == "待确认"
    assert record["basis"]["ratio"] == "0.60" and record["basis"]["premium_total_fen"] == 5762448 and record["basis"]["failed"] == []
    assert record["bank_account_masked"] == "3602***********3456"
    assert "3602000109200123456" not in response.text


def test_confirmation_over_the_api_records_the_handler_level_and_caller(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok-l3", unit=UNIT_L2, acr=L3)
    response = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": "confirm"}, headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed" and response.json()["decided_by_name"] == HANDLER["name"]
    assert response.json()["decided_acr"] == L3
    with records.db.transaction() as s:
        record = s.get(RefundRecord, rid)
        assert record.decided_by_sub == HANDLER["sub"] and record.decided_channel == "api:other-hrss-app"
        assert record.decided_address == "testclient"
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "record.confirmed")).scalar_one()
        assert entry.acr == L3 and '"unit_sub":"unit-2"' in entry.detail


def test_a_body_less_post_confirms(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok", unit=UNIT_L2)
    assert records.client.post(f"/api/v1/refunds/{rid}/confirmation", headers=bearer(token)).json()["status"] == "confirmed"


def test_a_second_confirmation_is_a_conflict(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok", unit=UNIT_L2)
    assert records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=bearer(token)).status_code == 200
    again = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": "decline", "note": "x"}, headers=bearer(token))
    assert again.status_code == 409 and again.json() == {"error": "already_decided", "status": "confirmed"}


def test_another_units_token_cannot_confirm_or_see_the_record(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok-l3-unit", unit=UNIT_L3)
    response = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": "confirm"}, headers=bearer(token))
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert status_of(records, rid) == "pending"
    listed = records.client.get("/api/v1/refunds/me", headers=bearer(token)).json()["records"]
    assert [r["uscc"] for r in listed] == [UNIT_L3["uscc"]]


def test_an_l1_token_gets_the_rfc9470_challenge(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok-l1", unit=UNIT_L2, acr=L1)
    for response in (
        records.client.get("/api/v1/refunds/me", headers=bearer(token)),
        records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=bearer(token)),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == CHALLENGE
        assert response.json() == {"error": "insufficient_user_authentication", "acr_values": "urn:gdzwfw:loa:L2"}
    assert status_of(records, rid) == "pending"
    # The same challenge /api/v1/me gives.
    assert records.client.get("/api/v1/me", headers=bearer(token)).headers["www-authenticate"] == CHALLENGE


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_request_without_a_token_gets_a_bare_challenge(records: Env, header: str | None) -> None:
    # RFC 6750 §3.1: no bearer credentials at all, so no error code.
    rid = rid_of(records, ROW_L2[0])
    headers = {"Authorization": header} if header else {}
    for response in (
        records.client.get("/api/v1/refunds/me", headers=headers),
        records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=headers),
    ):
        assert response.status_code == 401 and response.headers["www-authenticate"] == BARE_CHALLENGE
        assert "error" not in response.json()
    assert status_of(records, rid) == "pending"


def test_an_unknown_token_is_invalid(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    for response in (
        records.client.get("/api/v1/refunds/me", headers={"Authorization": "Bearer unknown"}),
        records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers={"Authorization": "bearer unknown"}),
    ):
        assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert status_of(records, rid) == "pending"


def test_a_refresh_token_is_not_a_bearer_token(records: Env) -> None:
    token = records.isso.issue("refresh-1", unit=UNIT_L2, token_type="refresh_token")
    response = records.client.get("/api/v1/refunds/me", headers=bearer(token))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_revoked_token_is_refused_once_the_cache_bound_has_passed(env_factory) -> None:
    env = env_factory(introspection_cache_seconds=5)
    env.import_rows([ROW_L2])
    rid = rid_of(env, ROW_L2[0])
    token = env.isso.issue("tok", unit=UNIT_L2)
    assert env.client.get("/api/v1/refunds/me", headers=bearer(token)).status_code == 200
    env.isso.revoke(token)
    env.clock.advance(4)
    # Within the bound the cached answer may still be used …
    assert env.client.get("/api/v1/refunds/me", headers=bearer(token)).status_code == 200
    env.clock.advance(2)
    # … past it, the revocation is seen, for reading and for confirming.
    assert env.client.get("/api/v1/refunds/me", headers=bearer(token)).status_code == 401
    assert env.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=bearer(token)).status_code == 401
    assert status_of(env, rid) == "pending"


def test_a_back_channel_logout_refuses_that_logins_tokens_at_once_and_ends_its_page_session(records: Env) -> None:
    token = records.isso.issue("tok-ended", unit=UNIT_L2, sid="isso-sid-1")
    other = records.isso.issue("tok-other", unit=UNIT_L2, sid="isso-sid-2")
    records.login_unit({**UNIT_L2, "sid": "isso-sid-1"})
    for bearer_token in (token, other):
        assert records.client.get("/api/v1/refunds/me", headers=bearer(bearer_token)).status_code == 200
    # The ISSO ends the login: revokes its tokens, then sends the notice.
    records.isso.revoke(token)
    assert records.client.get("/api/v1/refunds/me", headers=bearer(token)).status_code == 200  # still the cached answer

    notice = records.client.post("/auth/backchannel-logout", data={"logout_token": records.isso.logout_token("isso-sid-1")})

    assert notice.status_code == 200
    asked = records.isso.introspections
    assert records.client.get("/api/v1/refunds/me", headers=bearer(token)).status_code == 401
    assert records.isso.introspections == asked + 1  # asked again, without waiting for the cache bound
    assert records.client.get("/api/v1/refunds/me", headers=bearer(other)).status_code == 200
    assert records.isso.introspections == asked + 1  # another login's cached answer stays
    assert "请先登录" in records.client.get("/").text


def test_a_read_only_token_reads_but_cannot_confirm(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok-read", unit=UNIT_L2, scope="openid profile refund.read")
    assert records.client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert [r["id"] for r in records.client.get("/api/v1/refunds/me", headers=bearer(token)).json()["records"]] == [rid]
    for decision in (
        {"decision": "confirm"},
        {"decision": "decline", "note": "不需要"},
        {"decision": "report_account", "note": "账户有误"},
    ):
        refused = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json=decision, headers=bearer(token))
        assert refused.status_code == 403
        assert refused.headers["www-authenticate"] == NEEDS_CONFIRM
        assert refused.json() == {"error": "insufficient_scope", "scope": "refund.confirm"}
    assert status_of(records, rid) == "pending"
    with records.db.transaction() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.record_id == rid, AuditEntry.action != "record.imported")).first() is None


def test_a_confirm_token_confirms_and_reads(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok-confirm", unit=UNIT_L2, scope="openid refund.confirm")
    assert records.client.get("/api/v1/refunds/me", headers=bearer(token)).json()["records"][0]["status"] == "pending"
    assert records.client.get("/api/v1/me", headers=bearer(token)).json()["uscc"] == UNIT_L2["uscc"]
    response = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": "confirm"}, headers=bearer(token))
    assert response.status_code == 200 and response.json()["status"] == "confirmed"


@pytest.mark.parametrize(
    "scope",
    [
        "openid profile",
        None,  # no scope in the introspection answer at all
        "refund refund.confirmed refund.read.all REFUND.CONFIRM",  # near misses: scopes are compared whole and exactly
    ],
)
def test_a_token_without_either_scope_is_refused_everywhere(records: Env, scope: str | None) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok-none", unit=UNIT_L2, scope=scope)
    for response, challenge in (
        (records.client.get("/api/v1/me", headers=bearer(token)), NEEDS_READ),
        (records.client.get("/api/v1/refunds/me", headers=bearer(token)), NEEDS_READ),
        (records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=bearer(token)), NEEDS_CONFIRM),
    ):
        assert response.status_code == 403 and response.headers["www-authenticate"] == challenge
        assert response.json()["error"] == "insufficient_scope" and ROW_L2[10] not in response.text
    assert status_of(records, rid) == "pending"


def test_the_level_is_challenged_before_the_scope_and_a_bad_token_before_both(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    # Below L2 and without the scope: the step-up challenge, not insufficient_scope.
    l1 = records.isso.issue("tok-l1-noscope", unit=UNIT_L2, acr=L1, scope="openid profile")
    for response in (
        records.client.get("/api/v1/refunds/me", headers=bearer(l1)),
        records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=bearer(l1)),
    ):
        assert response.status_code == 401 and response.headers["www-authenticate"] == CHALLENGE
    # A refresh token is refused as a credential, whatever scope it names.
    refresh = records.isso.issue("refresh-scoped", unit=UNIT_L2, token_type="refresh_token")
    response = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={}, headers=bearer(refresh))
    assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert status_of(records, rid) == "pending"


def test_a_note_is_required_to_decline_or_report_the_account(records: Env) -> None:
    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok", unit=UNIT_L2)
    for decision in ("decline", "report_account"):
        response = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": decision}, headers=bearer(token))
        assert response.status_code == 400 and response.json() == {"error": "invalid_request", "error_description": "note_required"}
    bad = records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": "approve"}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    assert status_of(records, rid) == "pending"
    reported = records.client.post(
        f"/api/v1/refunds/{rid}/confirmation", json={"decision": "report_account", "note": "账户已销户"}, headers=bearer(token)
    )
    assert reported.status_code == 200 and reported.json()["status"] == "account_reported"


def test_a_token_without_a_management_code_sees_nothing(records: Env) -> None:
    unit = {k: v for k, v in UNIT_L2.items() if k != "unit_code"}
    token = records.isso.issue("tok", unit=unit)
    assert records.client.get("/api/v1/refunds/me", headers=bearer(token)).json()["records"] == []
    _ = UNIT_L1


def test_the_openapi_document_describes_the_refund_api(env_factory) -> None:
    # Published in development only (tests/refund_portal/test_portal_page_headers.py).
    doc = env_factory(environment="development", demo_data=False).client.get("/openapi.json").json()
    me = doc["paths"]["/api/v1/refunds/me"]["get"]
    assert "401" in me["responses"] and "insufficient_user_authentication" in me["responses"]["401"]["description"]
    assert "insufficient_scope" in me["responses"]["403"]["description"] and 'scope="refund.read"' in me["responses"]["403"]["description"]
    assert "refund.read" in doc["paths"]["/api/v1/me"]["get"]["responses"]["403"]["description"]
    post = doc["paths"]["/api/v1/refunds/{record_id}/confirmation"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(post["responses"])
    assert 'scope="refund.confirm"' in post["responses"]["403"]["description"]
    schemas = doc["components"]["schemas"]
    assert {"Refund", "Basis", "ConfirmationRequest", "MyRefunds"} <= set(schemas)
    assert schemas["ConfirmationRequest"]["properties"]["decision"]["enum"] == ["confirm", "decline", "report_account"]
    # Pages and the agency's side are not part of the API document.
    assert not any(path.startswith("/agency") for path in doc["paths"])


class RoutesOnly:
    """FastAPI's own stack, without the fast lane in front."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        await super(ServiceApp, self.app).__call__(scope, receive, send)


def routes_only_client(env: Env) -> TestClient:
    # No lifespan of its own: the app is already started by env.client.
    return TestClient(RoutesOnly(env.client.app), base_url=str(env.client.base_url))


def test_the_fast_lane_and_the_documented_routes_answer_alike(records: Env) -> None:
    """The served app answers the two reads before the middleware
    (services.refund_portal.api.fast_lane); FastAPI's routes declare them in
    OpenAPI. Both must say the same, refusals and challenges included."""
    good = records.isso.issue("tok-l2", unit=UNIT_L2)
    low = records.isso.issue("tok-l1", unit=UNIT_L1, acr=L1)
    bound = bound_token(records)
    # Each case makes its headers once per lane: a DPoP proof works once.
    cases = [
        ("/api/v1/refunds/me", lambda: bearer(good)),
        ("/api/v1/me", lambda: bearer(good)),
        ("/api/v1/refunds/me", lambda: bearer(low)),
        ("/api/v1/refunds/me", lambda: bearer("no-such-token")),
        ("/api/v1/refunds/me", dict),
        ("/api/v1/refunds/me", lambda: dpop(records, bound)),
        ("/api/v1/me", lambda: bearer(bound)),
        ("/api/v1/me", lambda: dpop(records, bound, key=KEY_B, path="/api/v1/me")),
        ("/api/v1/me", lambda: dpop(records, bound, path="/api/v1/refunds/me")),
    ]
    routes_only = routes_only_client(records)
    for path, headers in cases:
        fast, routed = records.client.get(path, headers=headers()), routes_only.get(path, headers=headers())
        assert (fast.status_code, fast.json()) == (routed.status_code, routed.json()), path
        assert fast.headers.get("www-authenticate") == routed.headers.get("www-authenticate")
        # Answered by the fast lane: the page stack would have added its page policy.
        assert "content-security-policy" not in fast.headers and "content-security-policy" in routed.headers
    assert records.client.get("/api/v1/refunds/me", headers=bearer(good)).json()["records"][0]["uscc"] == UNIT_L2["uscc"]


def test_an_api_read_sets_no_session_cookie_and_carries_a_request_id(records: Env) -> None:
    response = records.client.get("/api/v1/refunds/me", headers=bearer(records.isso.issue("tok", unit=UNIT_L2)))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert "set-cookie" not in response.headers and response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_api_record_is_exactly_what_the_documented_schema_makes_of_the_record(records: Env) -> None:
    """refund_body builds the API's record directly (it was most of a call's
    CPU through the pages' view and pydantic); it must still be the schema's
    own answer, a decided record's times included."""
    from services.refund_portal.api.refunds import refund_body
    from services.refund_portal.api.schemas import Refund
    from services.refund_portal.records import present

    rid = rid_of(records, ROW_L2[0])
    token = records.isso.issue("tok", unit=UNIT_L2, scope="refund.confirm")
    assert (
        records.client.post(f"/api/v1/refunds/{rid}/confirmation", json={"decision": "confirm"}, headers=bearer(token)).status_code == 200
    )
    with records.db.transaction() as s:
        all_records = list(s.execute(select(RefundRecord)).scalars())
        assert {r.status for r in all_records} >= {"confirmed", "pending"} and any(r.decided_at for r in all_records)
        for record in all_records:
            assert refund_body(record) == Refund.model_validate(present(record)).model_dump(mode="json")
    listed = records.client.get("/api/v1/refunds/me", headers=bearer(token)).json()["records"]
    assert listed[0]["decided_at"].endswith("Z") and listed[0]["status"] == "confirmed"


def dpop(records: Env, token: str, *, key=KEY_A, method: str = "GET", path: str = "/api/v1/refunds/me", **claims) -> dict[str, str]:
    """``Authorization: DPoP`` with a proof by ``key`` for ``method`` ``path`` at the portal's public URL."""
    proof = dpop_proof(key, method, PORTAL + path, iat=records.clock.timestamp(), access_token=token, **claims)
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def bound_token(records: Env, name: str = "tok-bound", key=KEY_A, **extra) -> str:
    return records.isso.issue(name, unit=UNIT_L2, cnf={"jkt": thumbprint(key.as_dict(private=False))}, token_type="DPoP", **extra)


def test_a_dpop_bound_token_works_with_a_proof_of_its_key_on_both_lanes(records: Env) -> None:
    token = bound_token(records)
    listed = records.client.get("/api/v1/refunds/me", headers=dpop(records, token))
    assert listed.status_code == 200 and listed.json()["uscc"] == UNIT_L2["uscc"], listed.text
    rid = rid_of(records, ROW_L2[0])
    path = f"/api/v1/refunds/{rid}/confirmation"
    confirmed = records.client.post(path, json={"decision": "confirm"}, headers=dpop(records, token, method="POST", path=path))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"


def test_a_dpop_bound_token_sent_as_a_bearer_is_refused(records: Env) -> None:
    """RFC 9449 §7.2: a token bound to a key (``cnf``) is good only with a
    proof of that key; as a bearer it would work from anywhere."""
    token = bound_token(records)
    for path in ("/api/v1/refunds/me", "/api/v1/me"):
        response = records.client.get(path, headers={**bearer(token), "DPoP": dpop(records, token, path=path)["DPoP"]})
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


@pytest.mark.parametrize(
    "proof",
    [
        {"key": KEY_B},
        {"method": "POST"},
        {"path": "/api/v1/me"},
        {"ath": "not-the-hash"},
        {"iat": 0},
        {"missing": True},
    ],
    ids=["another-key", "another-method", "another-url", "wrong-ath", "stale-iat", "no-proof"],
)
def test_a_wrong_proof_is_refused_with_the_dpop_challenge(records: Env, proof: dict) -> None:
    token = bound_token(records)
    if proof.get("missing"):
        headers = {"Authorization": f"DPoP {token}"}
    elif "iat" in proof:
        headers = {"Authorization": f"DPoP {token}"}
        headers["DPoP"] = dpop_proof(KEY_A, "GET", PORTAL + "/api/v1/refunds/me", iat=records.clock.timestamp() - 300, access_token=token)
    else:
        headers = dpop(records, token, **proof)
    response = records.client.get("/api/v1/refunds/me", headers=headers)
    expected = "invalid_token" if "key" in proof else "invalid_dpop_proof"
    assert response.status_code == 401 and response.json()["error"] == expected, response.text
    assert response.headers["www-authenticate"].startswith(f'DPoP error="{expected}"')


def test_a_replayed_proof_is_refused_on_either_lane(records: Env) -> None:
    """The jti is spent in the shared store: a proof works once, whichever
    lane (or replica) saw it first."""
    token = bound_token(records)
    headers = dpop(records, token, path="/api/v1/me")
    assert records.client.get("/api/v1/me", headers=headers).status_code == 200
    again = records.client.get("/api/v1/me", headers=headers)
    assert again.status_code == 401 and again.json()["error"] == "invalid_dpop_proof"
    assert "jti" in again.json()["error_description"]


def test_a_plain_token_under_the_dpop_scheme_is_refused(records: Env) -> None:
    token = records.isso.issue("tok-plain", unit=UNIT_L2)
    response = records.client.get("/api/v1/refunds/me", headers=dpop(records, token))
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


def test_a_bound_l1_token_gets_the_step_up_challenge_in_the_dpop_scheme(records: Env) -> None:
    token = bound_token(records, acr=L1)
    response = records.client.get("/api/v1/refunds/me", headers=dpop(records, token))
    assert response.status_code == 401 and response.headers["www-authenticate"] == CHALLENGE.replace("Bearer ", "DPoP ", 1)


def test_an_unreachable_cache_store_is_a_retry_later_not_a_server_error(records: Env, monkeypatch, caplog) -> None:
    import logging

    from shared.kvstore import StoreUnavailable

    async def unreachable(key: str):
        raise StoreUnavailable("redis: TimeoutError")

    monkeypatch.setattr(records.client.app.state.introspector.cache, "aget", unreachable)
    with caplog.at_level(logging.WARNING, logger="refund.api"):
        response = records.client.get("/api/v1/refunds/me", headers=bearer(records.isso.issue("tok", unit=UNIT_L2)))
    assert response.status_code == 503 and response.json() == {"error": "temporarily_unavailable"}
    assert response.headers["retry-after"] == "5"
    # The operator's log says why (the caller is told only to retry).
    assert [r.fields["why"] for r in caplog.records if r.name == "refund.api"] == ["StoreUnavailable: redis: TimeoutError"]


def test_the_api_can_require_a_dpop_nonce_on_both_lanes(env_factory) -> None:
    """RFC 9449 §9 with ``REFUND_API_DPOP_NONCE_REQUIRED``: a proof without
    the API's nonce is answered 401 ``use_dpop_nonce`` with a ``DPoP-Nonce``,
    alike on the fast lane and FastAPI's route; a proof carrying it works. The
    nonce is the time window's (under the secret key, so replicas agree): good
    through the next window, refused with a new one after. Plain bearer tokens
    need no nonce."""
    env = env_factory(api_dpop_nonce_required=True)
    env.import_rows([ROW_L2])
    token = bound_token(env)
    for client in (env.client, routes_only_client(env)):
        refused = client.get("/api/v1/refunds/me", headers=dpop(env, token))
        assert refused.status_code == 401 and refused.json()["error"] == "use_dpop_nonce"
        assert refused.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
        nonce = refused.headers["dpop-nonce"]
        listed = client.get("/api/v1/refunds/me", headers=dpop(env, token, nonce=nonce))
        assert listed.status_code == 200 and listed.json()["records"][0]["uscc"] == UNIT_L2["uscc"], listed.text
    env.clock.advance(300)
    assert env.client.get("/api/v1/refunds/me", headers=dpop(env, token, nonce=nonce)).status_code == 200
    env.clock.advance(300)
    stale = env.client.get("/api/v1/refunds/me", headers=dpop(env, token, nonce=nonce))
    assert stale.status_code == 401 and stale.json()["error"] == "use_dpop_nonce" and stale.headers["dpop-nonce"] != nonce
    plain = env.isso.issue("tok-plain", unit=UNIT_L2)
    assert env.client.get("/api/v1/refunds/me", headers=bearer(plain)).status_code == 200
