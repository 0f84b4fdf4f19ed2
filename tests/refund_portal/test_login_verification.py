"""The portal checks every login response from hrss_isso (respx isolates
the portal; the ISSO side is faked at the transport with a real key)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.refund_portal.app import create_app
from services.refund_portal.settings import RefundSettings
from tests.refund_portal.conftest import AUDIT_KEYS, ISSO, KEY, PORTAL, csrf_of, serve_discovery

OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "isso-1", "alg": "RS256", "use": "sig"})


class FakeIsso:
    def __init__(self, router: respx.MockRouter) -> None:
        self.token_route = serve_discovery(router)
        self.id_token_claims: dict = {}
        self.signing_key = KEY

    def answer_with(self, expected_nonce: str, **overrides) -> None:
        now = int(time.time())
        claims = {
            "iss": ISSO,
            "sub": "unit-1",
            "aud": ["refund-portal"],
            "iat": now,
            "exp": now + 600,
            "auth_time": now,
            "nonce": expected_nonce,
            "acr": "urn:gdzwfw:loa:L2",
            "org_name": "广州市越秀区示范贸易有限公司",
            "uscc": "91440104MA5DL2B24P",
        }
        claims.update(overrides)
        id_token = jwt.encode({"alg": "RS256", "kid": "isso-1"}, claims, self.signing_key)
        self.token_route.respond(json={"access_token": "at", "token_type": "Bearer", "expires_in": 900, "id_token": id_token})


@pytest.fixture
def portal(fresh_database: Callable[[str], str]) -> Iterator[tuple[TestClient, FakeIsso]]:
    settings = RefundSettings(
        environment="test",
        database_url=fresh_database("refund_portal"),
        secret_key="test-secret-key-test-secret-key-0123456789",
        public_url=PORTAL,
        cookie_secure=False,
        isso_issuer=ISSO,
        isso_client_secret="s3cret",
        gdzwfw_verification_url="http://127.0.0.1:8001/account/verification",
        audit_keys=AUDIT_KEYS,
    )
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        fake = FakeIsso(router)
        with TestClient(create_app(settings), base_url=PORTAL) as client:
            yield client, fake


def start_login(client: TestClient) -> dict[str, str]:
    response = client.get("/login", follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{ISSO}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["code_challenge_method"] == "S256" and query["acr_values"] == "urn:gdzwfw:loa:L2"
    return query


def callback(client: TestClient, state: str, *, iss: str = ISSO) -> httpx.Response:
    return client.get("/auth/callback", params={"code": "c0de", "state": state, "iss": iss}, follow_redirects=False)


def test_a_correct_login_response_is_accepted(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"])
    response = callback(client, query["state"])
    assert response.status_code == 303
    assert "稳岗返还信息确认" in client.get("/").text


def test_an_id_token_with_a_bad_signature_is_refused(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.signing_key = OTHER_KEY
    isso.answer_with(query["nonce"])
    response = callback(client, query["state"])
    assert response.status_code == 400
    assert "未通过安全校验" in response.text
    assert "单位登录" in client.get("/").text  # not logged in


@pytest.mark.parametrize(
    "override",
    [{"iss": "http://127.0.0.1:8001"}, {"aud": ["someone-else"]}, {"nonce": "replayed-nonce"}, {"exp": int(time.time()) - 3600}],
    ids=["gdzwfw-issuer", "wrong-audience", "wrong-nonce", "expired"],
)
def test_an_id_token_not_meant_for_the_portal_is_refused(portal, override) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"], **override)
    response = callback(client, query["state"])
    assert response.status_code == 400
    assert "未通过安全校验" in response.text


def test_a_mixed_up_issuer_in_the_response_is_refused_before_the_code_is_sent(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"])
    response = callback(client, query["state"], iss="http://127.0.0.1:8001")
    assert response.status_code == 400 and "并非来自广东人社统一认证" in response.text
    assert not isso.token_route.called


def test_an_unknown_or_replayed_state_is_refused(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"])
    assert callback(client, "forged-state").status_code == 400
    assert callback(client, query["state"]).status_code == 303
    replay = callback(client, query["state"])
    assert replay.status_code == 400 and "登录状态已失效" in replay.text


def test_an_unreachable_isso_gives_a_clear_page(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.token_route.side_effect = httpx.ConnectError("connection refused")
    response = callback(client, query["state"])
    assert response.status_code == 400 and "暂时无法连接" in response.text


def test_the_level_below_l2_is_read_from_the_acr_received_not_the_one_asked_for(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"], acr="urn:gdzwfw:loa:L1")
    assert callback(client, query["state"]).status_code == 303
    page = client.get("/")
    assert page.status_code == 403 and "三级（原L1）" in page.text


def test_step_up_turns_the_challenge_into_a_new_authorization_request(portal) -> None:
    client, _ = portal
    up = client.get("/login", params={"acr_values": "urn:gdzwfw:loa:L3", "fresh": 1}, follow_redirects=False)
    query = parse_qs(urlsplit(up.headers["location"]).query)
    assert query["acr_values"] == ["urn:gdzwfw:loa:L3"] and query["prompt"] == ["login"]
    # Unknown or lower levels are not asked for: L2 is the portal's floor.
    low = client.get("/login", params={"acr_values": "urn:gdzwfw:loa:L1 made-up"}, follow_redirects=False)
    assert parse_qs(urlsplit(low.headers["location"]).query)["acr_values"] == ["urn:gdzwfw:loa:L2"]


def test_a_step_up_asks_the_level_as_essential_and_returns_where_it_was_going(portal) -> None:
    client, isso = portal
    up = client.get(
        "/login",
        params={"acr_values": "urn:gdzwfw:loa:L2", "max_age": "600", "next": "/refunds/7/decide?decision=confirm"},
        follow_redirects=False,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(up.headers["location"]).query).items()}
    # Essential: each provider on the way offers the upgrade rather than answering L1.
    assert json.loads(query["claims"]) == {"id_token": {"acr": {"essential": True, "values": ["urn:gdzwfw:loa:L2", "urn:gdzwfw:loa:L3"]}}}
    assert query["max_age"] == "600" and "prompt" not in query
    isso.answer_with(query["nonce"])
    assert callback(client, query["state"]).headers["location"] == "/refunds/7/decide?decision=confirm"
    # A plain first login asks L2 only as a preference and lands on the home page.
    first = start_login(client)
    assert "claims" not in first
    isso.answer_with(first["nonce"])
    assert callback(client, first["state"]).headers["location"] == "/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_the_return_path_after_login_never_leaves_the_portal(portal, target) -> None:
    client, isso = portal
    up = client.get("/login", params={"next": target}, follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlsplit(up.headers["location"]).query).items()}
    isso.answer_with(query["nonce"])
    assert callback(client, query["state"]).headers["location"] == "/"


def test_a_challenge_handed_over_by_a_front_end_starts_the_step_up(portal) -> None:
    client, _ = portal
    challenge = 'Bearer error="insufficient_user_authentication", acr_values="urn:gdzwfw:loa:L3", max_age="0"'
    handed = client.get("/login/step-up", params={"challenge": challenge, "next": "/refunds/3/decide"}, follow_redirects=False)
    assert handed.status_code == 303
    start = client.get(handed.headers["location"], follow_redirects=False)
    assert start.headers["location"].startswith(f"{ISSO}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    assert query["acr_values"] == "urn:gdzwfw:loa:L3" and query["max_age"] == "0"
    assert json.loads(query["claims"])["id_token"]["acr"]["values"] == ["urn:gdzwfw:loa:L3"]
    for bad in ('Bearer error="invalid_token"', "garbage"):
        refused = client.get("/login/step-up", params={"challenge": bad})
        assert refused.status_code == 400 and "无法识别的认证要求" in refused.text


def test_an_unmet_level_answer_offers_the_upgrade(portal) -> None:
    client, _ = portal
    query = start_login(client)
    page = client.get("/auth/callback", params={"error": "unmet_authentication_requirements", "state": query["state"], "iss": ISSO})
    assert page.status_code == 400 and "请先完成实名核验升级" in page.text
    assert 'id="upgrade" href="/login?acr_values=urn:gdzwfw:loa:L2&amp;next=/"' in page.text


def test_back_channel_logout_refuses_a_missing_or_forged_token(portal) -> None:
    client, _ = portal
    assert client.post("/auth/backchannel-logout", data={}).status_code == 400
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "RS256", "kid": "isso-1"},
        {
            "iss": ISSO,
            "aud": "refund-portal",
            "iat": now,
            "jti": "j1",
            "sid": "s1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        },
        OTHER_KEY,
    )
    refused = client.post("/auth/backchannel-logout", data={"logout_token": forged})
    assert refused.status_code == 400 and refused.headers["cache-control"] == "no-store"


def test_a_handler_below_l2_is_sent_to_the_isso_to_raise_the_level(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"], acr="urn:gdzwfw:loa:L1", idp="hrss", act={"sub": "p-1", "name": "陈晓"})
    assert callback(client, query["state"]).status_code == 303
    page = client.get("/")
    assert page.status_code == 403
    # A new request requiring L2: the ISSO keeps it waiting through 授权码实名 and comes back.
    assert 'id="upgrade" href="/login?acr_values=urn:gdzwfw:loa:L2&amp;next=/"' in page.text
    assert "授权码实名" in page.text and 'id="advice-unit"' not in page.text


def test_a_unit_account_below_l2_is_told_the_provincial_legal_login(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"], acr="urn:gdzwfw:loa:L1", idp="hrss")
    assert callback(client, query["state"]).status_code == 303
    page = client.get("/")
    assert page.status_code == 403 and 'id="advice-unit"' in page.text
    assert "法人账号" in page.text and "网银证书核验" not in page.text and "完成经办人实名认证" not in page.text
    assert 'id="upgrade" href="/login?acr_values=urn:gdzwfw:loa:L2&amp;next=/">使用省统一身份认证登录<' in page.text


def test_a_provincial_unit_below_l2_is_sent_to_gdzwfw_to_raise_the_level(portal) -> None:
    client, isso = portal
    query = start_login(client)
    isso.answer_with(query["nonce"], acr="urn:gdzwfw:loa:L1", idp="gdzwfw")
    assert callback(client, query["state"]).status_code == 303
    page = client.get("/").text
    assert 'id="upgrade" href="/login?acr_values=urn:gdzwfw:loa:L2&amp;next=/"' in page
    assert 'href="http://127.0.0.1:8001/account/verification"' in page


UNIT_NAME = "广州市越秀区示范贸易有限公司"  # shown only to the logged-in unit


def _logged_in(client: TestClient, isso: FakeIsso) -> None:
    query = start_login(client)
    isso.answer_with(query["nonce"])
    assert callback(client, query["state"]).status_code == 303
    assert UNIT_NAME in client.get("/").text


def test_a_get_of_logout_only_asks_so_another_sites_link_cannot_log_the_unit_out(portal) -> None:
    client, isso = portal
    _logged_in(client, isso)
    asked = client.get("/logout", follow_redirects=False)
    assert asked.status_code == 200 and asked.template.name == "logout_confirm.html"
    assert UNIT_NAME in client.get("/").text


def test_a_logout_post_without_the_csrf_token_is_refused(portal) -> None:
    client, isso = portal
    _logged_in(client, isso)
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 400
    assert UNIT_NAME in client.get("/").text


def test_a_logout_post_from_the_page_ends_the_session_and_logs_out_at_the_isso(portal) -> None:
    client, isso = portal
    _logged_in(client, isso)
    page = client.get("/")
    assert 'action="/logout"' in page.text  # 退出登录 in the header is the form
    response = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSO}/logout"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == [f"{PORTAL}/"] and query["id_token_hint"]
    assert UNIT_NAME not in client.get("/").text
