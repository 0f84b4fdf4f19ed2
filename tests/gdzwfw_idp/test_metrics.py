"""/metrics in the Prometheus text format: request counts and latencies by
route template (both lanes), logins and their password hashing, tokens by grant type, introspections,
the outbox depth, trust-level changes. Counters are process-wide, so each
test compares two scrapes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.gdzwfw_idp.accounts import record_level_change
from services.gdzwfw_idp.app import create_app
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.settings import IdpSettings
from shared.clock import FrozenClock
from shared.trust import TrustLevel
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params

Samples = dict[tuple[str, frozenset], float]


def scrape(idp: Idp) -> Samples:
    response = idp.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_a_scrape_counts_requests_by_route_template_logins_tokens_and_introspections(idp: Idp) -> None:
    before = scrape(idp)
    idp.login("demo_l2", params=authorize_params(Pkce.new()), password="wrong-password")
    pkce = Pkce.new()
    tokens = idp.redeem(idp.code_for("demo_l2", pkce), pkce).json()
    grant = idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=DEMO_RP)
    assert grant.status_code == 200
    for token in (grant.json()["access_token"], "not-a-token"):
        idp.client.post("/introspect", data={"token": token}, auth=DEMO_RP)
    idp.client.get("/no/such/page/12345")
    after = scrape(idp)

    # FastAPI routes by template, the fast lane's by its exact path.
    assert delta(before, after, "http_requests_total", route="/login", method="POST", status="303") == 1
    assert delta(before, after, "http_requests_total", route="/login", method="POST", status="400") == 1
    assert delta(before, after, "http_requests_total", route="/token", method="POST", status="200") == 2
    assert delta(before, after, "http_requests_total", route="/introspect", method="POST", status="200") == 2
    assert delta(before, after, "http_requests_total", route="<unmatched>", method="GET", status="404") == 1
    assert not any("12345" in dict(labels).get("route", "") for _, labels in after)
    assert delta(before, after, "http_request_duration_seconds_count", route="/token", method="POST") == 2
    assert delta(before, after, "http_request_duration_seconds_bucket", route="/token", method="POST", le="+Inf") == 2

    assert delta(before, after, "logins_total", method="password", outcome="success") == 1
    assert delta(before, after, "logins_total", method="password", outcome="failure") == 1
    # Each of the two password logins ran one argon2id verify, and its time is kept.
    assert delta(before, after, "password_verify_duration_seconds_count") == 2
    assert delta(before, after, "password_verify_duration_seconds_sum") > 0
    assert delta(before, after, "oauth_tokens_issued_total", grant_type="authorization_code") == 1
    assert delta(before, after, "oauth_tokens_issued_total", grant_type="client_credentials") == 1
    assert delta(before, after, "oauth_introspections_total", active="true") == 1
    assert delta(before, after, "oauth_introspections_total", active="false") == 1
    assert tokens["access_token"]


def test_the_outbox_depth_is_read_at_scrape_time(idp: Idp) -> None:
    provider = idp.app.state.provider
    assert scrape(idp)[("backchannel_logout_outbox_depth", frozenset())] == 0
    with idp.app.state.db.transaction() as s:
        for n in range(3):
            provider.outbox.enqueue(s, client_id="demo-rp", uri="http://127.0.0.1:8099/bc", subject=None, sid=f"sid-{n}")
    assert scrape(idp)[("backchannel_logout_outbox_depth", frozenset())] == 3


def test_level_changes_are_counted_once_committed(idp: Idp) -> None:
    labels = {"to_level": "L3", "method": "测试核验"}
    before = scrape(idp)
    db = idp.app.state.db
    with db.session() as s:
        account = s.query(Account).filter_by(login_name="demo_l2").one()
        record_level_change(s, account=account, to_level=TrustLevel.L3, method="测试核验", evidence="-", actor="test", at=idp.clock.now())
        s.rollback()
    assert delta(before, scrape(idp), "trust_level_changes_total", **labels) == 0
    with db.transaction() as s:
        account = s.query(Account).filter_by(login_name="demo_l2").one()
        record_level_change(s, account=account, to_level=TrustLevel.L3, method="测试核验", evidence="-", actor="test", at=idp.clock.now())
    assert delta(before, scrape(idp), "trust_level_changes_total", **labels) == 1


def test_production_answers_metrics_only_on_the_internal_port(fresh_database, tmp_path) -> None:
    """manage serve's *_METRICS_PORT (shared.metrics.start_metrics_server); the public port has none."""
    settings = IdpSettings(
        environment="production",
        database_url=fresh_database("gdzwfw_idp"),
        secret_key="p" * 40,
        staff_totp_keys=["q" * 40],
        public_url=ISSUER,
        dev_certs_dir=str(tmp_path / "absent"),
    )
    assert TestClient(create_app(settings, clock=FrozenClock()), base_url=ISSUER).get("/metrics").status_code == 404
