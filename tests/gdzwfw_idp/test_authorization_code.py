"""Authorization code + PKCE at gdzwfw_idp (RFC 6749 §4.1, RFC 7636, RFC 9207)."""

from __future__ import annotations

import concurrent.futures

import pytest

from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, decode_id_token, query_of


def test_demo_l2_gets_tokens_whose_claims_say_who_and_how_trusted(idp: Idp) -> None:
    pkce = Pkce.new()
    params = authorize_params(pkce)
    redirect = idp.login("demo_l2", params=params)
    assert redirect.status_code == 302
    query = query_of(redirect)
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER  # RFC 9207

    tokens = idp.redeem(query["code"], pkce).json()
    claims = decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())
    assert claims["iss"] == ISSUER and claims["aud"] == ["demo-rp"] and claims["nonce"] == params["nonce"]
    assert claims["acr"] == "urn:gdzwfw:loa:L2" and claims["trust_level"] == "L2"
    assert claims["account_type"] == "legal_person"
    assert claims["uscc"] == "91440104MA5DL2B24P" and claims["org_name"] == "广州市越秀区示范贸易有限公司"
    assert claims["amr"] == ["pwd"] and claims["auth_time"] == idp.clock.timestamp()
    assert "legal_rep_id_number" not in claims and "440104198505120024" not in str(claims)


def test_a_code_redeemed_twice_fails_and_revokes_the_first_tokens(idp: Idp) -> None:
    pkce = Pkce.new()
    code = idp.code_for("demo_l2", pkce)
    first = idp.redeem(code, pkce)
    assert first.status_code == 200
    access_token = first.json()["access_token"]
    assert idp.client.post("/introspect", data={"token": access_token}, auth=DEMO_RP).json()["active"] is True

    second = idp.redeem(code, pkce)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert idp.client.post("/introspect", data={"token": access_token}, auth=DEMO_RP).json() == {"active": False}


def test_a_code_redeemed_20_times_at_once_succeeds_exactly_once(idp: Idp) -> None:
    from prometheus_client import REGISTRY

    def issued() -> float:
        return REGISTRY.get_sample_value("oauth_tokens_issued_total", {"grant_type": "authorization_code"}) or 0.0

    pkce = Pkce.new()
    code = idp.code_for("demo_l2", pkce)
    before = issued()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: idp.redeem(code, pkce, client=idp.new_browser()), range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    # Counted once: a redemption that lost the code's claim issued nothing.
    assert issued() - before == 1
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)
    winner = next(r for r in responses if r.status_code == 200).json()["access_token"]
    # Every losing redemption is a replay: the winner's tokens are revoked.
    assert idp.client.post("/introspect", data={"token": winner}, auth=DEMO_RP).json() == {"active": False}


def test_pkce_is_required_for_every_client(idp: Idp) -> None:
    response = idp.client.get("/authorize", params=authorize_params(None), follow_redirects=False)
    assert response.status_code == 302
    assert query_of(response)["error"] == "invalid_request"
    assert query_of(response)["iss"] == ISSUER


def test_pkce_plain_is_refused(idp: Idp) -> None:
    pkce = Pkce.new()
    params = authorize_params(pkce, code_challenge=pkce.verifier, code_challenge_method="plain")
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert query_of(response)["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused_and_the_code_survives(idp: Idp) -> None:
    pkce = Pkce.new()
    code = idp.code_for("demo_l2", pkce)
    wrong = idp.redeem(code, Pkce.new())
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert idp.redeem(code, pkce).status_code == 200


def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(idp: Idp) -> None:
    params = authorize_params(Pkce.new(), redirect_uri="http://127.0.0.1:8099/cb/../evil")
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "登录请求" in response.text


def test_unknown_client_gets_an_error_page(idp: Idp) -> None:
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), client_id="nobody"), follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers
    assert "未在本平台登记" in response.text


def test_wrong_client_secret_is_401_invalid_client(idp: Idp) -> None:
    pkce = Pkce.new()
    code = idp.code_for("demo_l2", pkce)
    response = idp.redeem(code, pkce, auth=("demo-rp", "not-the-secret"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    posted = idp.client.post("/token", data={"grant_type": "client_credentials", "client_id": "demo-rp", "client_secret": "nope"})
    assert posted.status_code == 401 and posted.json()["error"] == "invalid_client"


def test_an_expired_code_is_refused(idp: Idp) -> None:
    pkce = Pkce.new()
    code = idp.code_for("demo_l2", pkce)
    idp.clock.advance(idp.settings.code_ttl + 1)
    response = idp.redeem(code, pkce)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_prompt_none_without_a_session_answers_login_required(idp: Idp) -> None:
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), prompt="none"), follow_redirects=False)
    assert response.status_code == 302
    assert query_of(response)["error"] == "login_required"


def test_a_nonce_already_given_to_a_code_is_refused_on_a_new_request(idp: Idp) -> None:
    # OIDC Core §3.1.2.1 / §15.5.2: a nonce replays an earlier login. The
    # second request comes from a new browser (no login): the first-request shortcut.
    pkce = Pkce.new()
    idp.code_for("demo_l2", pkce, nonce="nonce-used-once")
    again = idp.new_browser().get("/authorize", params=authorize_params(Pkce.new(), nonce="nonce-used-once"), follow_redirects=False)
    assert again.status_code == 302
    assert query_of(again)["error"] == "invalid_request" and query_of(again)["iss"] == ISSUER


def test_a_first_request_without_a_login_parks_it_and_the_login_resumes_it(idp: Idp) -> None:
    params = authorize_params(Pkce.new(), prompt="login", state="st-1")
    first = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert first.status_code == 303 and "/login?interaction=" in first.headers["location"]
    interaction = first.headers["location"].split("interaction=", 1)[1]
    parked = idp.app.state.provider.interactions.get(interaction)
    assert parked is not None and parked.client_id == "demo-rp" and parked.client_name and parked.needs_login
    # prompt is kept aside (satisfied by this login), every other parameter parked as sent
    assert parked.requested_prompt == "login" and parked.params == {k: v for k, v in params.items() if k != "prompt"}


def test_a_first_request_without_a_login_opens_no_synchronous_database_session(idp: Idp) -> None:
    from sqlalchemy import Engine, event

    if idp.app.state.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the same reads, in a worker thread (shared.db_async)")
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    # Every synchronous engine: the key-value store has its own (unflushed writes).
    event.listen(Engine, "before_cursor_execute", count)
    try:
        response = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert response.status_code == 303
    assert statements == []  # the client is cached, the nonce read and the interaction written on asyncpg


def test_the_return_after_the_login_and_the_code_exchange_use_no_synchronous_engine(idp: Idp) -> None:
    """The resume decides on the event loop (the login read on asyncpg, the
    code written there), and so does the code's exchange (the code and the
    account read there, the claim and the tokens written in one
    transaction): on PostgreSQL nothing goes through a synchronous engine,
    and the code is redeemable once."""
    from sqlalchemy import Engine, event

    pkce = Pkce.new()
    params = authorize_params(pkce)
    resume_url = idp.logged_in("demo_l2", params=params).headers["location"]
    # The signing keys are read once per cache period (KeyManager.cache_seconds), not per request.
    assert idp.client.get("/jwks.json").status_code == 200
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        back = idp.client.get(resume_url, follow_redirects=False)
        query = query_of(back)
        tokens = idp.redeem(query["code"], pkce)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert back.status_code == 302
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    assert tokens.status_code == 200
    if idp.app.state.db.engine.dialect.name == "postgresql":
        assert statements == []
    claims = decode_id_token(tokens.json()["id_token"], idp.client.get("/jwks.json").json())
    assert claims["nonce"] == params["nonce"] and claims["acr"] == "urn:gdzwfw:loa:L2"
    # The interaction was answered: coming back to it again is refused.
    again = idp.client.get(resume_url, follow_redirects=False)
    assert again.status_code == 400 and "登录已超时" in again.text
    assert idp.redeem(query["code"], pkce).status_code == 400


def test_a_login_whose_account_was_stopped_since_is_asked_to_log_in_again(idp: Idp) -> None:
    """A browser that still holds a login: its next authorization request
    reads the account afresh, and a stopped account's login no longer counts."""
    from sqlalchemy import update

    from services.gdzwfw_idp.models import Account

    assert idp.login("demo_l2", params=authorize_params(Pkce.new())).status_code == 302
    # Still logged in: the next request is answered at once, with a code.
    assert "code" in query_of(idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False))
    with idp.app.state.db.transaction() as s:
        s.execute(update(Account).where(Account.login_name == "demo_l2").values(status="disabled"))
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    assert response.status_code == 303 and "/login?interaction=" in response.headers["location"]
