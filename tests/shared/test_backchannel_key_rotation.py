"""Back-channel logout across a key rotation at the provider: an unknown
``kid`` makes the relying party fetch the JWKS again, at most once per
window (shared/oauth/client.py ``RelyingParty.decode_jwt``). respx serves
the provider's discovery document and a JWKS of real RSA keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import respx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.clock import FrozenClock
from shared.kvstore import SqlKeyValueStore
from shared.oauth.backchannel import LogoutTokenInvalid, LogoutTokenValidator
from shared.oauth.client import RelyingParty
from shared.oauth.provider.provider import BACKCHANNEL_LOGOUT_EVENT
from tests.oidc_helpers import run

ISSUER = "https://isso.example"
CLIENT = "refund-portal"
WINDOW = 15


class Provider:
    """The signing side: keys it publishes at its jwks_uri, newest first."""

    def __init__(self, router: respx.MockRouter, clock: FrozenClock) -> None:
        self.clock = clock
        self.published: list[RSAKey] = [self.new_key("k1")]
        router.get(f"{ISSUER}/.well-known/openid-configuration").respond(
            json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
            }
        )
        self.jwks = router.get(f"{ISSUER}/jwks").mock(side_effect=lambda _request: respx.MockResponse(json=self.key_set()))

    @staticmethod
    def new_key(kid: str) -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})

    def key_set(self) -> dict:
        return KeySet(self.published).as_dict(private=False)

    def logout_token(self, key: RSAKey) -> str:
        claims = {
            "iss": ISSUER,
            "aud": CLIENT,
            "iat": self.clock.timestamp(),
            "jti": uuid.uuid4().hex,
            "sid": "session-1",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        }
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims, key)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def provider(clock: FrozenClock) -> Iterator[Provider]:
    with respx.mock(assert_all_called=False) as router:
        yield Provider(router, clock)


@pytest.fixture
def validator(sqlite_kv: Callable[[FrozenClock], SqlKeyValueStore], clock: FrozenClock) -> LogoutTokenValidator:
    rp = RelyingParty(
        name="isso",
        issuer=ISSUER,
        client_id=CLIENT,
        client_secret="s",
        redirect_uri="https://rp.example/cb",
        clock=clock,
        jwks_refetch_interval=WINDOW,
    )
    return LogoutTokenValidator(rp=rp, kv=sqlite_kv(clock), clock=clock)


def outcomes(validator: LogoutTokenValidator, tokens: list[str]) -> list[str]:
    """Each token's fate, validated one after another on one event loop."""

    async def all_of_them() -> list[str]:
        results = []
        for token in tokens:
            try:
                await validator.validate(token)
                results.append("accepted")
            except LogoutTokenInvalid:
                results.append("refused")
        return results

    return run(all_of_them)


def test_a_token_signed_by_a_rotated_in_key_is_accepted_after_one_refetch(provider: Provider, validator: LogoutTokenValidator) -> None:
    old = provider.published[0]
    assert outcomes(validator, [provider.logout_token(old)]) == ["accepted"]
    assert provider.jwks.call_count == 1  # cached from now on

    new = provider.new_key("k2")
    provider.published.insert(0, new)  # manage rotate-keys: the new key signs, the old one stays published
    assert outcomes(validator, [provider.logout_token(new), provider.logout_token(new), provider.logout_token(old)]) == ["accepted"] * 3
    assert provider.jwks.call_count == 2


def test_a_kid_still_unknown_after_the_refetch_is_refused_and_a_flood_refetches_once_per_window(
    provider: Provider, validator: LogoutTokenValidator, clock: FrozenClock
) -> None:
    stranger = Provider.new_key("forged")  # never published
    assert outcomes(validator, [provider.logout_token(provider.published[0])]) == ["accepted"]

    flood = [provider.logout_token(stranger) for _ in range(50)]
    assert outcomes(validator, flood) == ["refused"] * 50
    assert provider.jwks.call_count == 2  # the first fetch and a single refetch

    clock.advance(WINDOW - 1)
    assert outcomes(validator, [provider.logout_token(stranger)]) == ["refused"]
    assert provider.jwks.call_count == 2

    # Past the window a rotation is picked up again (and only one refetch is spent).
    clock.advance(1)
    new = provider.new_key("k2")
    provider.published.insert(0, new)
    assert outcomes(validator, [provider.logout_token(new), provider.logout_token(stranger)]) == ["accepted", "refused"]
    assert provider.jwks.call_count == 3
