"""Signed request objects (RFC 9101, JAR) at gdzwfw_idp: the object's
parameters are the request (those beside it in the query are ignored), an
essential ``acr`` inside it is a requirement like one in the query, and an
object whose signature, ``iss``, ``aud``, ``exp`` or ``nbf`` is wrong is
refused with ``invalid_request_object`` -- to the client only at a redirect
URI registered for it. A ``request_uri`` is only ever one the PAR endpoint
issued (test_pushed_authorization.py): the provider fetches none."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import (
    Pkce,
    authorize_params,
    client_key,
    essential_acr_claims,
    public_jwks,
    query_of,
    signed_request_object,
    unsigned_request_object,
)

JAR_RP = ("jar-rp", "jar-rp-secret")
JAR_REDIRECT = "http://127.0.0.1:8095/cb"
KEY = client_key()


def jar_client(**overrides: object) -> ClientConfig:
    values: dict = {
        "client_id": JAR_RP[0],
        "client_secret": SecretStr(JAR_RP[1]),
        "redirect_uris": [JAR_REDIRECT],
        "jwks": public_jwks(KEY),
    }
    return ClientConfig(**{**values, **overrides})


@pytest.fixture
def idp(make_idp: Callable[..., Idp]) -> Idp:
    return make_idp(clients=[jar_client()])


def jar_params(pkce: Pkce, **extra: str) -> dict[str, str]:
    return authorize_params(pkce, client_id=JAR_RP[0], redirect_uri=JAR_REDIRECT, **extra)


def signed(idp: Idp, params: dict, **envelope: object) -> str:
    return signed_request_object(KEY, params, issuer=ISSUER, now=idp.clock.timestamp(), **envelope)


def redeem(idp: Idp, code: str, pkce: Pkce) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": JAR_REDIRECT, "code_verifier": pkce.verifier}
    return idp.client.post("/token", data=data, auth=JAR_RP)


def test_discovery_says_request_objects_are_supported(idp: Idp) -> None:
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["request_parameter_supported"] is True and meta["request_uri_parameter_supported"] is False
    assert (
        "ES256" in meta["request_object_signing_alg_values_supported"] and "none" not in meta["request_object_signing_alg_values_supported"]
    )


def test_the_objects_parameters_win_over_the_query(idp: Idp) -> None:
    pkce = Pkce.new()
    inner = jar_params(pkce, state="from-the-object")
    outer = {"client_id": JAR_RP[0], "request": signed(idp, inner), "state": "from-the-query", "scope": "openid"}
    done = idp.login("demo_l2", params=outer)
    assert done.status_code == 302 and done.headers["location"].startswith(JAR_REDIRECT + "?")
    query = query_of(done)
    assert query["state"] == "from-the-object" and query["iss"] == ISSUER
    tokens = redeem(idp, query["code"], pkce)
    assert tokens.status_code == 200 and tokens.json()["scope"] == "openid profile"


def test_an_essential_acr_inside_the_object_is_a_requirement(idp: Idp) -> None:
    inner = jar_params(Pkce.new(), claims=json.loads(essential_acr_claims("urn:gdzwfw:loa:L2")))
    page = idp.login("demo_l1", params={"client_id": JAR_RP[0], "request": signed(idp, inner)})
    assert page.status_code == 403 and "账号可信等级不足" in page.text
    inner = jar_params(Pkce.new(), claims=json.loads(essential_acr_claims("urn:gdzwfw:loa:L2")))
    done = idp.login("demo_l2", params={"client_id": JAR_RP[0], "request": signed(idp, inner)}, browser=idp.new_browser())
    assert done.status_code == 302 and "code" in query_of(done)


@pytest.mark.parametrize(
    "envelope",
    [
        {"aud": "http://127.0.0.1:8002/isso"},
        {"iss": "someone-else"},
        {"exp": None},
        {"lifetime": -120},
        {"nbf": 4_000_000_000},
    ],
    ids=["wrong-aud", "wrong-iss", "no-exp", "expired", "not-yet-valid"],
)
def test_a_wrong_envelope_is_an_invalid_request_object(idp: Idp, envelope: dict) -> None:
    inner = jar_params(Pkce.new())
    request = signed(idp, inner, **envelope)
    response = idp.client.get(
        "/authorize",
        params={"client_id": JAR_RP[0], "request": request, "redirect_uri": JAR_REDIRECT, "state": "s1"},
        follow_redirects=False,
    )
    assert response.status_code == 302 and response.headers["location"].startswith(JAR_REDIRECT + "?")
    query = query_of(response)
    assert query["error"] == "invalid_request_object" and query["state"] == "s1" and query["iss"] == ISSUER and "code" not in query


def test_a_bad_signature_is_refused_and_without_a_registered_redirect_uri_nothing_is_redirected(idp: Idp) -> None:
    forged = signed_request_object(client_key(KEY.kid), jar_params(Pkce.new()), issuer=ISSUER, now=idp.clock.timestamp())
    redirected = idp.client.get(
        "/authorize", params={"client_id": JAR_RP[0], "request": forged, "redirect_uri": JAR_REDIRECT}, follow_redirects=False
    )
    assert redirected.status_code == 302 and query_of(redirected)["error"] == "invalid_request_object"
    page = idp.client.get("/authorize", params={"client_id": JAR_RP[0], "request": forged}, follow_redirects=False)
    assert page.status_code == 400 and "location" not in page.headers and "无法核实" in page.text
    evil = idp.client.get(
        "/authorize",
        params={"client_id": JAR_RP[0], "request": forged, "redirect_uri": "http://127.0.0.1:8099/evil"},
        follow_redirects=False,
    )
    assert evil.status_code == 400 and "location" not in evil.headers


def test_an_unsigned_object_is_refused(idp: Idp) -> None:
    inner = jar_params(Pkce.new(), claims=json.loads(essential_acr_claims("urn:gdzwfw:loa:L2")))
    request = unsigned_request_object({**inner, "iss": JAR_RP[0], "aud": ISSUER, "exp": idp.clock.timestamp() + 60})
    response = idp.login("demo_l1", params={"client_id": JAR_RP[0], "request": request, "redirect_uri": JAR_REDIRECT})
    assert response.status_code == 302 and "code" not in query_of(response)
    assert query_of(response)["error"] in ("invalid_request", "invalid_request_object")


def test_an_object_of_a_client_without_keys_is_refused(idp: Idp) -> None:
    from tests.oidc_helpers import DEMO_REDIRECT, DEMO_RP

    inner = authorize_params(Pkce.new())
    response = idp.client.get(
        "/authorize",
        params={"client_id": DEMO_RP[0], "request": signed(idp, inner), "redirect_uri": DEMO_REDIRECT},
        follow_redirects=False,
    )
    assert response.status_code == 302 and query_of(response)["error"] == "invalid_request_object"


def test_a_pushed_request_object_is_verified_at_the_par_endpoint(idp: Idp) -> None:
    pkce = Pkce.new()
    good = idp.client.post("/par", data={"client_id": JAR_RP[0], "request": signed(idp, jar_params(pkce))}, auth=JAR_RP)
    assert good.status_code == 201, good.text
    done = idp.login("demo_l2", params={"client_id": JAR_RP[0], "request_uri": good.json()["request_uri"]})
    assert done.status_code == 302 and redeem(idp, query_of(done)["code"], pkce).status_code == 200
    stale = idp.client.post("/par", data={"client_id": JAR_RP[0], "request": signed(idp, jar_params(pkce), lifetime=-120)}, auth=JAR_RP)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_request_object"


def test_keys_by_uri_are_fetched_from_the_client(make_idp: Callable[..., Idp]) -> None:
    jwks_uri = "https://jar-rp.example/jwks.json"
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json=public_jwks(KEY))

    idp = make_idp(clients=[jar_client(jwks=None, jwks_uri=jwks_uri)])
    idp.app.state.provider.client_keys.transport = httpx.MockTransport(serve)
    for _ in range(2):
        done = idp.login(
            "demo_l2", params={"client_id": JAR_RP[0], "request": signed(idp, jar_params(Pkce.new()))}, browser=idp.new_browser()
        )
        assert done.status_code == 302 and "code" in query_of(done)
    assert fetched == [jwks_uri]  # cached for the second request


def test_a_client_that_rotated_its_key_is_fetched_again_for_the_new_kid(make_idp: Callable[..., Idp]) -> None:
    """Its new key id is not in the cached set: the provider fetches the
    client's jwks_uri again at once instead of refusing until the cache ends."""
    jwks_uri = "https://jar-rp.example/jwks.json"
    rotated = client_key("client-key-2")
    published = [public_jwks(KEY)]
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json=published[-1])

    idp = make_idp(clients=[jar_client(jwks=None, jwks_uri=jwks_uri)])
    keys = idp.app.state.provider.client_keys
    keys.transport, keys.refetch_interval = httpx.MockTransport(serve), 0
    first = idp.login("demo_l2", params={"client_id": JAR_RP[0], "request": signed(idp, jar_params(Pkce.new()))}, browser=idp.new_browser())
    assert first.status_code == 302 and "code" in query_of(first)
    published.append(public_jwks(rotated))
    request = signed_request_object(rotated, jar_params(Pkce.new()), issuer=ISSUER, now=idp.clock.timestamp())
    second = idp.login("demo_l2", params={"client_id": JAR_RP[0], "request": request}, browser=idp.new_browser())
    assert second.status_code == 302 and "code" in query_of(second), second.text[:300]
    assert fetched == [jwks_uri, jwks_uri]
