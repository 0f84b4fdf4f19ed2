"""The per-process client cache: a few seconds of client rows, never more
than the row holds, emptied when the provider (re)writes its clients."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import select, update

from services.gdzwfw_idp.models import provider_tables
from shared.oauth.provider.store import ClientCache
from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import Idp
from tests.oidc_helpers import DEMO_RP


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client_credentials(idp: Idp, auth: tuple[str, str] = DEMO_RP) -> int:
    return idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=auth).status_code


def _use_timer(idp: Idp) -> FakeTimer:
    timer = FakeTimer()
    idp.app.state.provider.clients = ClientCache(ttl=5.0, timer=timer)
    return timer


def test_cache_keeps_rows_for_ttl_seconds_and_forgets_on_invalidate() -> None:
    timer = FakeTimer()
    cache = ClientCache(ttl=5.0, timer=timer)
    cache.put("a", ("a", "hash"))
    assert cache.get("a") == ("a", "hash") and cache.get("b") is None
    timer.now += 4.9
    assert cache.get("a") == ("a", "hash")
    timer.now += 0.2
    assert cache.get("a") is None
    cache.put("a", ("a", "hash"))
    cache.invalidate()
    assert cache.get("a") is None


def test_cache_is_bounded() -> None:
    cache = ClientCache(max_entries=3)
    for name in "abcd":
        cache.put(name, (name,))
    assert cache.get("d") == ("d",)
    assert sum(cache.get(name) is not None for name in "abcd") <= 3


def test_cached_entry_is_the_row_with_the_hashed_secret_and_misses_are_not_kept(idp: Idp) -> None:
    _use_timer(idp)
    assert _client_credentials(idp) == 200
    assert _client_credentials(idp, ("nobody", "x")) == 401
    cache = idp.app.state.provider.clients
    assert cache.get("nobody") is None
    cached = cache.get(DEMO_RP[0])
    with idp.app.state.db.transaction() as s:
        row = s.execute(select(provider_tables.client).where(provider_tables.client.c.client_id == DEMO_RP[0])).mappings().one()
    assert cached[:2] == (DEMO_RP[0], row["client_secret_hash"])
    assert DEMO_RP[1] not in repr(cached)


def test_a_row_changed_by_another_process_is_seen_after_the_ttl(idp: Idp) -> None:
    timer = _use_timer(idp)
    assert _client_credentials(idp) == 200
    # Another replica, started with a configuration that no longer allows the grant.
    with idp.app.state.db.transaction() as s:
        s.execute(
            update(provider_tables.client)
            .where(provider_tables.client.c.client_id == DEMO_RP[0])
            .values(grant_types=["authorization_code"])
        )
    assert _client_credentials(idp) == 200  # within the TTL: the cached row
    timer.now += 5.0
    assert _client_credentials(idp) == 400  # unauthorized_client


def test_prepare_empties_the_cache(idp: Idp) -> None:
    _use_timer(idp)
    assert _client_credentials(idp) == 200
    provider = idp.app.state.provider
    rotated = ClientConfig(
        client_id=DEMO_RP[0],
        client_secret=SecretStr("rotated-secret"),
        redirect_uris=["http://127.0.0.1:8099/cb"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )
    provider.prepare([rotated])
    assert _client_credentials(idp) == 401
    assert _client_credentials(idp, (DEMO_RP[0], "rotated-secret")) == 200


def _row(client_id: str, registration: dict) -> tuple:
    # The columns of client_by_id, the registration JSON last.
    return (
        client_id,
        "hash",
        client_id,
        ["https://rp.example/cb"],
        [],
        None,
        ["client_credentials"],
        "",
        "client_secret_basic",
        True,
        registration,
    )


def test_each_lookup_gets_its_own_client_and_a_replaced_row_brings_its_own_registration() -> None:
    timer = FakeTimer()
    cache = ClientCache(ttl=5.0, timer=timer)
    cache.put("a", _row("a", {}))
    first, second = cache.client("a"), cache.client("a")
    assert first is not second and not first.registration.dpop_bound_access_tokens
    assert first.registration is second.registration  # validated once for the cached row
    # The configuration changed (a replica started with the new one): the next row is read as it is.
    cache.put("a", _row("a", {"dpop_bound_access_tokens": True}))
    assert cache.client("a").registration.dpop_bound_access_tokens
    timer.now += 5.1
    assert cache.client("a") is None
