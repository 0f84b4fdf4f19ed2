"""A client that authenticates with a method it is not registered for is told
which one it is registered for (RFC 6749 §5.2 ``invalid_client``, the
description a developer reads), at the token, introspection and revocation
endpoints alike; a wrong secret is not told anything about the client."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.flows import post_client_config

ENDPOINTS = {
    "/token": {"grant_type": "client_credentials"},
    "/introspect": {"token": "some-token"},
    "/revoke": {"token": "some-token"},
}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_basic_client_using_post_is_told_to_use_basic(idp: Idp, path: str) -> None:
    data = {**ENDPOINTS[path], "client_id": "demo-rp", "client_secret": "demo-rp-secret"}
    response = idp.client.post(path, data=data)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.json()["error_description"] == "client must authenticate with client_secret_basic"


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_post_client_using_basic_is_told_to_use_post(make_idp: Callable[..., Idp], path: str) -> None:
    post_client = post_client_config(introspection_allowed=True)
    idp = make_idp(clients=[post_client])
    response = idp.client.post(path, data=ENDPOINTS[path], auth=("post-rp", "post-rp-secret"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.json()["error_description"] == "client must authenticate with client_secret_post"


def test_a_wrong_secret_through_the_wrong_method_names_no_method(idp: Idp) -> None:
    data = {**ENDPOINTS["/token"], "client_id": "demo-rp", "client_secret": "not-the-secret"}
    response = idp.client.post("/token", data=data)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert "client_secret_basic" not in response.json().get("error_description", "")
