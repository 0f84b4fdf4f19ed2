"""Token introspection (RFC 7662) and revocation (RFC 7009) at gdzwfw_idp."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import (
    OTHER_RP,
    RESOURCE_SERVER,
    introspect,
    is_active,
    other_rp_config,
    refresh,
    resource_server_config,
    revoke,
    tokens_for,
)
from tests.oidc_helpers import decode_id_token


@pytest.fixture
def idp3(make_idp: Callable[..., Idp]) -> Idp:
    """demo-rp plus another relying party and a resource server allowed to introspect."""
    return make_idp(clients=[other_rp_config(), resource_server_config()])


# -- introspection ------------------------------------------------------------
def test_introspection_requires_client_authentication(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    anonymous = introspect(idp, tokens["access_token"], auth=None)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert "active" not in anonymous.json()
    wrong = introspect(idp, tokens["access_token"], auth=("demo-rp", "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_introspection_describes_the_user_and_the_authentication(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    answer = introspect(idp, tokens["access_token"]).json()
    assert answer["active"] is True
    assert answer["iss"] == ISSUER and answer["client_id"] == "demo-rp"
    assert answer["sub"]
    assert answer["exp"] == idp.clock.timestamp() + idp.settings.access_token_ttl
    assert set(answer["scope"].split()) == {"openid", "profile"}
    assert answer["acr"] == "urn:gdzwfw:loa:L2" and answer["trust_level"] == "L2"
    assert answer["auth_time"] == idp.clock.timestamp()
    assert answer["account_type"] == "legal_person"
    assert answer["org_name"] == "广州市越秀区示范贸易有限公司"
    assert answer["uscc"] == "91440104MA5DL2B24P"
    assert answer["legal_rep_name"] == "李华"
    assert "440104198505120024" not in str(answer)  # the representative's ID number never travels


def test_introspection_sub_matches_the_id_token_sub(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l1")
    claims = decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())
    answer = introspect(idp, tokens["access_token"]).json()
    assert answer["sub"] == claims["sub"]
    assert answer["trust_level"] == "L1"


def test_a_client_cannot_introspect_another_clients_token(idp3: Idp) -> None:
    tokens = tokens_for(idp3, "demo_l2")
    answer = introspect(idp3, tokens["access_token"], auth=OTHER_RP)
    assert answer.status_code == 200
    assert answer.json() == {"active": False}


def test_a_resource_server_allowed_to_introspect_sees_any_clients_token(idp3: Idp) -> None:
    tokens = tokens_for(idp3, "demo_l2")
    answer = introspect(idp3, tokens["access_token"], auth=RESOURCE_SERVER).json()
    assert answer["active"] is True
    assert answer["client_id"] == "demo-rp"
    assert answer["trust_level"] == "L2" and answer["uscc"] == "91440104MA5DL2B24P"


def test_an_expired_access_token_is_inactive(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    idp.clock.advance(idp.settings.access_token_ttl - 1)
    assert is_active(idp, tokens["access_token"])
    idp.clock.advance(1)
    assert introspect(idp, tokens["access_token"]).json() == {"active": False}


def test_unknown_token_is_inactive(idp: Idp) -> None:
    assert introspect(idp, "no-such-token").json() == {"active": False}


def test_a_refresh_token_introspects_with_its_own_expiry(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    answer = introspect(idp, tokens["refresh_token"], token_type_hint="refresh_token").json()
    assert answer["active"] is True
    assert answer["token_type"] == "refresh_token"
    assert answer["exp"] == idp.clock.timestamp() + idp.settings.refresh_token_ttl


# -- revocation ---------------------------------------------------------------
def test_revoking_an_access_token_makes_it_inactive(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    response = revoke(idp, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert not is_active(idp, tokens["access_token"])
    userinfo = idp.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401


def test_revoking_a_refresh_token_ends_the_whole_grant(idp: Idp) -> None:
    first = tokens_for(idp, "demo_l2")
    rotated = refresh(idp, first["refresh_token"]).json()
    response = revoke(idp, rotated["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert not is_active(idp, first["access_token"])
    assert not is_active(idp, rotated["access_token"])
    assert not is_active(idp, rotated["refresh_token"])
    again = refresh(idp, rotated["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_token_type_hint_does_not_stop_revocation(idp: Idp) -> None:
    """RFC 7009 §2.1: a server that cannot find the token by the hint searches all types."""
    tokens = tokens_for(idp, "demo_l2")
    assert revoke(idp, tokens["refresh_token"], token_type_hint="access_token").status_code == 200
    assert not is_active(idp, tokens["access_token"])
    assert refresh(idp, tokens["refresh_token"]).status_code == 400


def test_revoking_one_grant_leaves_other_grants_alone(idp: Idp) -> None:
    one = tokens_for(idp, "demo_l2")
    other = tokens_for(idp, "demo_l2")
    assert revoke(idp, one["refresh_token"]).status_code == 200
    assert not is_active(idp, one["access_token"])
    assert is_active(idp, other["access_token"])


def test_revoking_an_unknown_token_answers_200(idp: Idp) -> None:
    response = revoke(idp, "never-issued")
    assert response.status_code == 200


def test_revocation_requires_client_authentication(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    response = revoke(idp, tokens["access_token"], auth=None)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert is_active(idp, tokens["access_token"])


def test_a_client_cannot_revoke_another_clients_token(idp3: Idp) -> None:
    tokens = tokens_for(idp3, "demo_l2")
    response = revoke(idp3, tokens["access_token"], auth=OTHER_RP)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert is_active(idp3, tokens["access_token"])
    response = revoke(idp3, tokens["refresh_token"], auth=OTHER_RP)
    assert response.status_code == 400
    assert refresh(idp3, tokens["refresh_token"]).status_code == 200
