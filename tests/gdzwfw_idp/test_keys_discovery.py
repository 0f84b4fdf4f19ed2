"""Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS through a signing-key
rotation: new ID tokens use the new key at once, the retired key stays
published until every ID token it signed has expired, then disappears."""

from __future__ import annotations

import pytest
from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy import select, update

from shared.oauth.provider.keys import KeyManager
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import tokens_for
from tests.oidc_helpers import decode_id_token


def kid_of(id_token: str) -> str:
    return jws.extract_compact(id_token.encode()).headers()["kid"]


def published_kids(idp: Idp) -> list[str]:
    return [key["kid"] for key in idp.client.get("/jwks.json").json()["keys"]]


def rotate(idp: Idp) -> str:
    keys = idp.app.state.provider.config.keys
    with idp.app.state.db.transaction() as s:
        kid = keys.rotate(s)
    keys.invalidate()  # after the commit, so no request caches the pre-rotation view
    return kid


def test_discovery_describes_the_provider(idp: Idp) -> None:
    response = idp.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert meta["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert meta["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert meta["end_session_endpoint"] == f"{ISSUER}/logout"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["acr_values_supported"] == ["urn:gdzwfw:loa:L1", "urn:gdzwfw:loa:L2", "urn:gdzwfw:loa:L3"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256", "PS256"]
    assert meta["claims_parameter_supported"] is True
    for claim in ("acr", "trust_level", "org_name", "uscc", "account_type"):
        assert claim in meta["claims_supported"], claim


def test_every_advertised_endpoint_answers(idp: Idp) -> None:
    """What discovery promises exists: no 404 or 405 behind an advertised URL."""
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert idp.client.get(meta["jwks_uri"]).status_code == 200
    assert idp.client.post(meta["token_endpoint"], data={}).status_code in (400, 401)
    assert idp.client.post(meta["introspection_endpoint"], data={"token": "x"}).status_code == 401
    assert idp.client.post(meta["revocation_endpoint"], data={"token": "x"}).status_code == 401
    assert idp.client.get(meta["userinfo_endpoint"]).status_code == 401
    assert idp.client.get(meta["end_session_endpoint"]).status_code == 200


def test_jwks_publishes_only_public_rsa_keys(idp: Idp) -> None:
    keys = idp.client.get("/jwks.json").json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    # No "alg": the key signs RS256 and PS256 ID tokens (keys.py says why).
    assert key["kty"] == "RSA" and key["use"] == "sig" and "alg" not in key and key["kid"]
    for private in ("d", "p", "q", "dp", "dq", "qi"):
        assert private not in key


def test_id_tokens_name_the_published_key(idp: Idp) -> None:
    tokens = tokens_for(idp, "demo_l2")
    assert kid_of(tokens["id_token"]) in published_kids(idp)


def test_key_rotation_signs_with_the_new_key_and_retires_the_old_one_after_the_grace(idp: Idp) -> None:
    before = tokens_for(idp, "demo_l2")["id_token"]
    old_kid = kid_of(before)

    new_kid = rotate(idp)
    assert new_kid != old_kid
    after = tokens_for(idp, "demo_l2")["id_token"]
    assert kid_of(after) == new_kid

    # Both keys are published: tokens signed before the rotation still verify.
    assert set(published_kids(idp)) == {old_kid, new_kid}
    jwks = idp.client.get("/jwks.json").json()
    assert decode_id_token(before, jwks)["iss"] == ISSUER
    assert decode_id_token(after, jwks)["iss"] == ISSUER

    # Still published just before every old ID token has expired (+ the grace) …
    keys = idp.app.state.provider.config.keys
    grace = idp.settings.id_token_ttl + 300
    idp.clock.advance(grace - 1)
    keys.invalidate()
    assert old_kid in published_kids(idp)

    # … and gone once the grace and the key cache have passed.
    idp.clock.advance(1 + keys.cache_seconds + 1)
    assert published_kids(idp) == [new_kid]
    with pytest.raises(JoseError):
        decode_id_token(before, idp.client.get("/jwks.json").json())
    assert kid_of(tokens_for(idp, "demo_l2")["id_token"]) == new_kid


def test_the_key_cache_expires_on_its_own(idp: Idp) -> None:
    """Another replica rotating (no invalidate() here) is seen within cache_seconds."""
    keys = idp.app.state.provider.config.keys
    old_kid = published_kids(idp)[0]
    with idp.app.state.db.transaction() as s:
        # Rotate through a second KeyManager, as another process would.
        other = KeyManager(
            tables=idp.app.state.provider.config.tables,
            clock=idp.clock,
            secret_key=idp.settings.secret_key.get_secret_value(),
            publish_grace=idp.settings.id_token_ttl + 300,
        )
        new_kid = other.rotate(s)
    idp.clock.advance(keys.cache_seconds + 1)
    assert set(published_kids(idp)) == {old_kid, new_kid}
    assert kid_of(tokens_for(idp, "demo_l2")["id_token"]) == new_kid


def test_logout_accepts_an_id_token_hint_signed_by_a_retired_key(idp: Idp) -> None:
    browser = idp.new_browser()
    id_token = tokens_for(idp, "demo_l2", browser=browser)["id_token"]
    rotate(idp)
    response = browser.get(
        "/logout",
        params={"id_token_hint": id_token, "client_id": "demo-rp", "post_logout_redirect_uri": "http://127.0.0.1:8099/"},
        follow_redirects=False,
    )
    assert response.status_code == 302 and response.headers["location"] == "http://127.0.0.1:8099/"


def test_after_the_secret_key_changes_a_new_key_signs_and_the_old_one_stays_published(idp: Idp) -> None:
    """Rotating secret_key makes the stored private key unreadable: at the
    next start-up it is retired (still published, so the ID tokens it signed
    verify) and a new key signs, instead of every login failing."""
    config = idp.app.state.provider.config
    old_kid = kid_of(tokens_for(idp, "demo_l2")["id_token"])
    rotated = KeyManager(
        tables=config.tables, clock=config.clock, secret_key="another-secret-key-after-rotation-0123456789", publish_grace=600
    )
    with idp.app.state.db.transaction() as s:
        rotated.ensure_key(s)
    with idp.app.state.db.transaction() as s:
        new_kid = rotated.current(s).kid
        published = [k["kid"] for k in rotated.jwks(s)["keys"]]
    assert new_kid != old_kid and sorted(published) == sorted([new_kid, old_kid])
    # Idempotent: a second start-up keeps the readable key.
    with idp.app.state.db.transaction() as s:
        rotated.ensure_key(s)
    rotated.invalidate()
    with idp.app.state.db.transaction() as s:
        assert rotated.current(s).kid == new_kid and len(rotated.jwks(s)["keys"]) == 2


def test_a_key_stored_with_alg_rs256_is_published_without_it(idp: Idp) -> None:
    """Keys made before PS256 carry ``"alg": "RS256"`` in their stored JWK;
    published so, they would contradict the PS256 ID tokens they sign."""
    config = idp.app.state.provider.config
    table = config.tables.signing_key
    with idp.app.state.db.transaction() as s:
        for kid, jwk in s.execute(select(table.c.kid, table.c.public_jwk)).all():
            s.execute(update(table).where(table.c.kid == kid).values(public_jwk={**jwk, "alg": "RS256"}))
    config.keys.invalidate()
    assert [key.get("alg") for key in idp.client.get("/jwks.json").json()["keys"]] == [None]
