"""The ISSO's UserInfo endpoint answers like gdzwfw_idp's (RFC 6750 §3.1):
``Bearer`` alone without credentials, ``Bearer error="invalid_token"`` for a
token it does not know."""

from __future__ import annotations

import pytest

from tests.hrss_isso.conftest import Isso


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_userinfo_without_a_token_gets_a_bare_bearer_challenge(isso: Isso, headers: dict[str, str]) -> None:
    response = isso.client.get("/isso/userinfo", headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {}


def test_userinfo_with_an_unknown_token_is_invalid_token(isso: Isso) -> None:
    response = isso.client.get("/isso/userinfo", headers={"Authorization": "bearer made-up"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
