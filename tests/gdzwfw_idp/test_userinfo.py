"""The UserInfo endpoint (OIDC Core §5.3) and its bearer-token errors (RFC 6750 §3)."""

from __future__ import annotations

import pytest

from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.flows import refresh, revoke, tokens_for
from tests.oidc_helpers import decode_id_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_answers_the_legal_persons_claims_and_trust_level(idp: Idp, method: str) -> None:
    tokens = tokens_for(idp, "demo_l3")
    response = idp.client.request(method, "/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    claims = response.json()
    id_claims = decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())
    assert claims["sub"] == id_claims["sub"]
    assert claims["acr"] == "urn:gdzwfw:loa:L3" and claims["trust_level"] == "L3"
    assert claims["account_type"] == "legal_person"
    assert claims["org_name"] == "广州市荔湾区示范制造有限公司"
    assert claims["uscc"] == "91440103MA5DL3C31X"
    assert claims["legal_rep_name"] == "王强"
    assert claims["auth_time"] == idp.clock.timestamp()
    assert "440105197503030035" not in response.text


def test_userinfo_for_a_natural_person_has_a_name_and_no_unit_claims(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_person", tab="personal")
    claims = idp.client.get("/userinfo", headers=bearer(tokens["access_token"])).json()
    assert claims["account_type"] == "natural_person" and claims["name"] == "陈晓"
    assert "uscc" not in claims and "org_name" not in claims
    assert "440106199007150041" not in str(claims)


def test_userinfo_after_refresh_still_works(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    rotated = refresh(idp, tokens["refresh_token"]).json()
    response = idp.client.get("/userinfo", headers=bearer(rotated["access_token"]))
    assert response.status_code == 200 and response.json()["trust_level"] == "L2"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}])
def test_userinfo_without_a_token_is_401_with_a_bare_bearer_challenge(idp: Idp, method: str, headers: dict[str, str]) -> None:
    # RFC 6750 §3.1: a request with no bearer credentials gets the scheme and
    # no error code (Authlib would say missing_authorization / unsupported_token_type).
    response = idp.client.request(method, "/userinfo", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_userinfo_with_an_unknown_token_is_401_invalid_token(idp: Idp, scheme: str) -> None:
    response = idp.client.get("/userinfo", headers={"Authorization": f"{scheme} made-up-token"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


def test_userinfo_with_a_refresh_token_as_bearer_is_refused(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    response = idp.client.get("/userinfo", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_with_a_revoked_token_is_401(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    assert idp.client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert revoke(idp, tokens["access_token"]).status_code == 200
    response = idp.client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_with_an_expired_token_is_401(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    idp.clock.advance(idp.settings.access_token_ttl + 1)
    response = idp.client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_needs_the_openid_scope(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    # A token without "openid" (refreshed down to "profile") is not for userinfo.
    narrowed = idp.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "profile"},
        auth=("demo-rp", "demo-rp-secret"),
    ).json()
    response = idp.client.get("/userinfo", headers=bearer(narrowed["access_token"]))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert "sub" not in response.json()


def test_userinfo_insufficient_scope_carries_a_bearer_challenge(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    narrowed = idp.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "profile"},
        auth=("demo-rp", "demo-rp-secret"),
    ).json()
    response = idp.client.get("/userinfo", headers=bearer(narrowed["access_token"]))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers.get("WWW-Authenticate", "")
