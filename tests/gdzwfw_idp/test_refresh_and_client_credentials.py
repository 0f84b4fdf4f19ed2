"""Refresh-token rotation with reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)
and the client-credentials grant (RFC 6749 §4.4) at gdzwfw_idp."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

from pydantic import SecretStr

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import OTHER_RP, introspect, is_active, other_rp_config, post_client_config, refresh, tokens_for
from tests.oidc_helpers import DEMO_RP


def test_each_refresh_gives_a_new_refresh_token_and_spends_the_old_one(idp: Idp) -> None:
    first = tokens_for(idp, "demo_l2")
    assert first["refresh_token"]

    second = refresh(idp, first["refresh_token"])
    assert second.status_code == 200, second.text
    second_tokens = second.json()
    assert "no-store" in second.headers["cache-control"]
    assert second_tokens["refresh_token"] != first["refresh_token"]
    assert second_tokens["access_token"] != first["access_token"]
    assert is_active(idp, second_tokens["access_token"])
    # The spent refresh token no longer introspects as active.
    assert introspect(idp, first["refresh_token"], token_type_hint="refresh_token").json() == {"active": False}

    third = refresh(idp, second_tokens["refresh_token"])
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in (first["refresh_token"], second_tokens["refresh_token"])


def test_refreshed_access_token_keeps_who_and_how_trusted(idp: Idp) -> None:
    first = tokens_for(idp, "demo_l3")
    idp.clock.advance(120)
    rotated = refresh(idp, first["refresh_token"]).json()
    answer = introspect(idp, rotated["access_token"]).json()
    assert answer["active"] is True
    assert answer["acr"] == "urn:gdzwfw:loa:L3" and answer["trust_level"] == "L3"
    assert answer["uscc"] == "91440103MA5DL3C31X"
    # auth_time is the login, not the refresh.
    assert answer["auth_time"] == idp.clock.timestamp() - 120


def test_a_spent_refresh_token_presented_again_revokes_the_whole_family(idp: Idp) -> None:
    first = tokens_for(idp, "demo_l2")
    rotated = refresh(idp, first["refresh_token"]).json()
    assert is_active(idp, first["access_token"]) and is_active(idp, rotated["access_token"])

    replay = refresh(idp, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    # Every token of the grant is dead: both access tokens and the rotated refresh token.
    assert not is_active(idp, first["access_token"])
    assert not is_active(idp, rotated["access_token"])
    assert not is_active(idp, rotated["refresh_token"])
    again = refresh(idp, rotated["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_reuse_revokes_only_its_own_family(idp: Idp) -> None:
    victim = tokens_for(idp, "demo_l2")
    bystander = tokens_for(idp, "demo_l3")
    refresh(idp, victim["refresh_token"])
    assert refresh(idp, victim["refresh_token"]).status_code == 400
    assert is_active(idp, bystander["access_token"])
    assert refresh(idp, bystander["refresh_token"]).status_code == 200


def test_a_refresh_token_used_10_times_at_once_succeeds_exactly_once(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: refresh(idp, tokens["refresh_token"], client=idp.new_browser()), range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)
    winner = next(r for r in responses if r.status_code == 200).json()
    # The losers were reuses: the family, including the winner's tokens, is revoked.
    assert not is_active(idp, winner["access_token"])
    assert refresh(idp, winner["refresh_token"]).status_code == 400


def test_another_clients_refresh_token_is_refused_and_stays_usable_by_its_owner(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(clients=[other_rp_config()])
    tokens = tokens_for(idp, "demo_l2")
    stolen = refresh(idp, tokens["refresh_token"], auth=OTHER_RP)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert "access_token" not in stolen.json()
    # The refusal neither spent nor revoked the owner's grant.
    assert is_active(idp, tokens["access_token"])
    assert refresh(idp, tokens["refresh_token"]).status_code == 200


def test_an_expired_refresh_token_is_refused(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    idp.clock.advance(idp.settings.refresh_token_ttl - 1)
    assert introspect(idp, tokens["refresh_token"]).json()["active"] is True
    idp.clock.advance(2)
    response = refresh(idp, tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert introspect(idp, tokens["refresh_token"]).json() == {"active": False}


def test_a_wrong_client_secret_cannot_refresh(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    response = refresh(idp, tokens["refresh_token"], auth=("demo-rp", "wrong"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert refresh(idp, tokens["refresh_token"]).status_code == 200


def test_refresh_cannot_widen_the_scope(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2", scope="openid")
    response = idp.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "openid profile"},
        auth=DEMO_RP,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


# -- client credentials ---------------------------------------------------------
def test_client_credentials_with_basic_auth_gives_an_access_token_without_refresh_token(idp: Idp) -> None:
    response = idp.client.post("/token", data={"grant_type": "client_credentials", "scope": "profile"}, auth=DEMO_RP)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    assert body["expires_in"] == idp.settings.access_token_ttl
    assert "refresh_token" not in body and "id_token" not in body
    assert "no-store" in response.headers["cache-control"]  # RFC 6749 §5.1


def test_client_credentials_with_post_auth(make_idp: Callable[..., Idp]) -> None:
    post_client = post_client_config()
    idp = make_idp(clients=[post_client])
    response = idp.client.post(
        "/token", data={"grant_type": "client_credentials", "client_id": "post-rp", "client_secret": "post-rp-secret"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] and "refresh_token" not in response.json()


def test_demo_rp_registered_for_basic_cannot_use_post_auth(idp: Idp) -> None:
    response = idp.client.post(
        "/token", data={"grant_type": "client_credentials", "client_id": "demo-rp", "client_secret": "demo-rp-secret"}
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_client_credentials_token_introspects_as_active_without_a_subject(idp: Idp) -> None:
    token = idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=DEMO_RP).json()["access_token"]
    answer = introspect(idp, token).json()
    assert answer["active"] is True
    assert answer["client_id"] == "demo-rp" and answer["iss"] == ISSUER
    assert answer["exp"] == idp.clock.timestamp() + idp.settings.access_token_ttl
    for claim in ("sub", "acr", "trust_level", "org_name", "uscc", "auth_time"):
        assert claim not in answer, claim


def test_client_credentials_token_is_not_accepted_at_userinfo(idp: Idp) -> None:
    token = idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=DEMO_RP).json()["access_token"]
    response = idp.client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_client_credentials_refused_to_a_client_not_registered_for_it(make_idp: Callable[..., Idp]) -> None:
    code_only = ClientConfig(
        client_id="code-only",
        client_secret=SecretStr("code-only-secret"),
        redirect_uris=["http://127.0.0.1:8097/cb"],
        grant_types=["authorization_code"],
    )
    idp = make_idp(clients=[code_only])
    response = idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=("code-only", "code-only-secret"))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
