"""TokenIntrospector (shared/oauth/introspection.py): its cache, and
``forget_session`` dropping a login's cached results. respx stands in for the
authorization server's introspection endpoint; the cache is the SQL
key-value store on a temporary SQLite file, with a frozen clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from shared.clock import FrozenClock
from shared.kvstore import SqlKeyValueStore
from shared.oauth.introspection import TokenIntrospector
from tests.oidc_helpers import run

ISSUER = "https://isso.example/isso"
ENDPOINT = f"{ISSUER}/introspect"
CACHE_SECONDS = 30


class FakeServer:
    """The introspection endpoint: active tokens and the sid they carry."""

    def __init__(self, router: respx.MockRouter, clock: FrozenClock) -> None:
        self.clock = clock
        self.active: dict[str, str | None] = {}
        self.asked: list[str] = []
        router.post(ENDPOINT).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        token = parse_qs(request.content.decode())["token"][0]
        self.asked.append(token)
        if token not in self.active:
            return httpx.Response(200, json={"active": False})
        body = {"active": True, "iss": ISSUER, "sub": "unit-2", "token_type": "Bearer", "exp": self.clock.timestamp() + 900}
        sid = self.active[token]
        return httpx.Response(200, json={**body, **({"sid": sid} if sid else {})})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def kv(sqlite_kv: Callable[[FrozenClock], SqlKeyValueStore], clock: FrozenClock) -> SqlKeyValueStore:
    return sqlite_kv(clock)


@pytest.fixture
def server(clock: FrozenClock) -> Iterator[FakeServer]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeServer(router, clock)


def claims_of(kv: SqlKeyValueStore, clock: FrozenClock, *tokens: str) -> list[dict | None]:
    """Ask one introspector (as one request would) about each token in turn."""

    async def ask() -> list[dict | None]:
        async def endpoint() -> str:
            return ENDPOINT

        async with httpx.AsyncClient() as http:
            introspector = TokenIntrospector(
                endpoint=endpoint,
                issuer=ISSUER,
                client_id="rs",
                client_secret="rs-secret",
                cache=kv,
                clock=clock,
                cache_seconds=CACHE_SECONDS,
                http=http,
            )
            return [await introspector.active_claims(token) for token in tokens]

    return run(ask)


def introspector_for(kv: SqlKeyValueStore, clock: FrozenClock) -> TokenIntrospector:
    """For the blocking ``forget_session``, which needs no HTTP client."""

    async def endpoint() -> str:
        return ENDPOINT

    return TokenIntrospector(
        endpoint=endpoint,
        issuer=ISSUER,
        client_id="rs",
        client_secret="rs-secret",
        cache=kv,
        clock=clock,
        cache_seconds=CACHE_SECONDS,
        http=None,
    )  # type: ignore[arg-type]


def test_an_active_result_is_cached_until_the_bound(kv, clock, server) -> None:
    server.active["t1"] = "sid-1"
    assert claims_of(kv, clock, "t1", "t1")[1]["sub"] == "unit-2"
    assert server.asked == ["t1"]
    clock.advance(CACHE_SECONDS)
    claims_of(kv, clock, "t1")
    assert server.asked == ["t1", "t1"]


def test_forget_session_drops_that_logins_results_so_the_next_call_asks_again(kv, clock, server) -> None:
    server.active.update({"a1": "sid-1", "a2": "sid-1", "b1": "sid-2", "plain": None})
    claims_of(kv, clock, "a1", "a2", "b1", "plain")
    claims_of(kv, clock, "a1", "a2", "b1", "plain")
    assert sorted(server.asked) == ["a1", "a2", "b1", "plain"]  # the second round came from the cache
    # The server ends login sid-1 (its tokens revoked), then tells the resource server.
    del server.active["a1"], server.active["a2"]

    assert introspector_for(kv, clock).forget_session("sid-1") == 2

    server.asked.clear()
    a1, a2, b1, plain = claims_of(kv, clock, "a1", "a2", "b1", "plain")
    assert a1 is None and a2 is None  # refused at once, not after the cache bound
    assert b1 is not None and plain is not None
    assert server.asked == ["a1", "a2"]  # other logins' results stay cached
    assert introspector_for(kv, clock).forget_session("sid-1") == 0


def test_a_result_cached_again_is_forgotten_even_after_its_first_listing_would_have_expired(kv, clock, server) -> None:
    server.active.update({"t1": "sid-1", "t2": "sid-1"})
    claims_of(kv, clock, "t1")  # t=0, cached until 30
    clock.advance(20)
    claims_of(kv, clock, "t2")  # t=20, cached until 50
    clock.advance(15)
    claims_of(kv, clock, "t1")  # t=35: expired, asked and cached again until 65
    clock.advance(25)  # t=60: only t1's second result is still cached
    del server.active["t1"]

    assert introspector_for(kv, clock).forget_session("sid-1") >= 1

    server.asked.clear()
    assert claims_of(kv, clock, "t1") == [None]
    assert server.asked == ["t1"]
