"""The relying parties' private_key_jwt key (shared.oauth.rp_keys): the same
in every process of a development deployment (derived from its secret key),
different per deployment and per hop, configured in production."""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import ECKey
from pydantic import SecretStr

from shared.oauth.rp_keys import public_jwks, relying_party_key
from shared.settings import ServiceSettings


def settings(environment: str, secret: str = "a-real-secret-key-of-at-least-32-chars-1") -> ServiceSettings:
    return ServiceSettings(environment=environment, database_url="sqlite://", secret_key=secret, public_url="http://127.0.0.1:8003")


def test_development_derives_one_key_per_deployment_and_hop() -> None:
    dev = settings("development")
    first, again = (relying_party_key(None, dev, label="portal") for _ in range(2))
    assert first is not None and first.is_private and public_jwks(first) == public_jwks(again)
    assert public_jwks(relying_party_key(None, dev, label="isso")) != public_jwks(first)
    assert public_jwks(
        relying_party_key(None, settings("development", "another-deployments-secret-key-0123456789"), label="portal")
    ) != public_jwks(first)
    assert "d" not in public_jwks(first)["keys"][0]


def test_production_uses_the_configured_key_or_none() -> None:
    prod = settings("production")
    assert relying_party_key(None, prod, label="portal") is None
    key = ECKey.generate_key("P-256", private=True)
    configured = relying_party_key(SecretStr(json.dumps(key.as_dict(private=True))), prod, label="portal")
    assert configured is not None and configured.alg == "ES256" and configured.as_dict(private=False)["x"] == key.as_dict()["x"]
    with pytest.raises(ValueError):
        relying_party_key(SecretStr(json.dumps(key.as_dict(private=False))), prod, label="portal")
