"""The client-credentials grant and introspection on the event loop
(shared/oauth/provider/hot_paths.py): the same answers as the general path,
under concurrency, with revocation seen at once. On PostgreSQL the rows go
through asyncpg in coalesced batches."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import DEMO_RP


def _in_app_loop(idp: Idp, scenario):
    """Run ``scenario(client)`` in the loop that served the app's lifespan
    (where the asynchronous store was opened), over ASGI."""

    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=idp.app), base_url=ISSUER, auth=DEMO_RP) as client:
            return await scenario(client)

    return idp.client.portal.call(main)


def test_concurrent_grants_are_distinct_active_and_written_in_fewer_batches(idp: Idp) -> None:
    async def scenario(client: httpx.AsyncClient):
        grants = await asyncio.gather(*(client.post("/token", data={"grant_type": "client_credentials"}) for _ in range(40)))
        tokens = [g.json()["access_token"] for g in grants]
        checks = await asyncio.gather(*(client.post("/introspect", data={"token": t}) for t in tokens))
        return grants, tokens, checks

    grants, tokens, checks = _in_app_loop(idp, scenario)
    assert {g.status_code for g in grants} == {200}
    assert all(g.headers["cache-control"] == "no-store" for g in grants)
    assert len(set(tokens)) == 40
    assert [c.json()["active"] for c in checks] == [True] * 40
    assert {c.json()["client_id"] for c in checks} == {"demo-rp"}
    if idp.app.state.db.engine.dialect.name == "postgresql":
        opened = idp.app.state.provider.hot._asyncpg  # the asyncpg store, writes coalesced
        assert opened is not None and 0 < opened._writes.batches < 40


def test_revocation_is_seen_by_the_next_introspection(idp: Idp) -> None:
    async def scenario(client: httpx.AsyncClient):
        token = (await client.post("/token", data={"grant_type": "client_credentials"})).json()["access_token"]
        before = (await client.post("/introspect", data={"token": token})).json()
        revoked = await client.post("/revoke", data={"token": token})
        after = (await client.post("/introspect", data={"token": token})).json()
        return before, revoked.status_code, after

    before, revoked, after = _in_app_loop(idp, scenario)
    assert before["active"] is True and revoked == 200 and after == {"active": False}


@pytest.mark.parametrize(
    ("auth", "data", "status", "error"),
    [
        (("demo-rp", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("nobody", "x"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (DEMO_RP, {"grant_type": "client_credentials", "scope": "id_number"}, 400, "invalid_scope"),
    ],
)
def test_refusals_on_the_hot_path_write_nothing(idp: Idp, auth, data, status: int, error: str) -> None:
    async def scenario(client: httpx.AsyncClient):
        return await client.post("/token", data=data, auth=auth)

    response = _in_app_loop(idp, scenario)
    assert response.status_code == status and response.json()["error"] == error


@pytest.mark.parametrize("token", ["", " ", "x" * 5000])
def test_introspection_of_an_empty_or_odd_token_says_inactive(idp: Idp, token: str) -> None:
    """A harness that lost its token sent ``token=`` to the hot path 40,000
    times under load: each was a 500 (the rows read first did not include
    the empty token Authlib then asked for). An odd token is simply not active."""

    async def scenario(client: httpx.AsyncClient):
        return await client.post("/introspect", data={"token": token})

    response = _in_app_loop(idp, scenario)
    assert response.status_code == 200 and response.json() == {"active": False}


@pytest.mark.parametrize("path", ["/introspect", "/token", "/revoke"])
def test_a_nul_byte_in_a_machine_request_is_an_invalid_request(idp: Idp, path: str) -> None:
    """PostgreSQL's text cannot hold it: refused before any lookup, as the protocol says."""

    async def scenario(client: httpx.AsyncClient):
        return await client.post(path, data={"token": "a\x00b", "grant_type": "client_credentials", "scope": "\x00"})

    response = _in_app_loop(idp, scenario)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def _token_fields(n: int, *, access: str | None = None) -> dict:
    # Everything a token row can hold, lists and nested objects in its JSON columns included.
    return {
        "access_token": access or f"batch-access-{n}",
        "refresh_token": f"batch-refresh-{n}" if n % 2 else None,
        "client_id": "demo-rp",
        "subject": f"subject-{n}" if n % 2 else None,
        "scope": "openid profile",
        "expires_in": 600,
        "refresh_ttl": 3600,
        "family_id": None,
        "authorization_code_id": None,
        "auth_time": 1_700_000_000 + n if n % 2 else None,
        "acr": "L2" if n % 2 else None,
        "amr": ["pwd", "sms"][: n % 3],
        "sid": f"sid-{n}" if n % 2 else None,
        "context": {"unit": {"uscc": "91440101MA59XXXX0X", "names": ["甲", "乙"]}, "n": n} if n % 2 else {},
        "dpop_jkt": None,
    }


def test_token_rows_written_together_read_back_as_written(idp: Idp) -> None:
    from shared.oauth.provider.store import ProviderStore, token_values

    provider = idp.app.state.provider
    fields = [_token_fields(n) for n in range(9)]

    async def scenario(_client):
        now = provider.config.clock.now()
        await asyncio.gather(*(provider.hot.store.insert_token(token_values(now=now, **f)) for f in fields))

    _in_app_loop(idp, scenario)
    with idp.app.state.db.session() as session:
        store = ProviderStore(session, provider.config.tables, provider.config.clock)
        for f in fields:
            token = store.find_token(access_token=f["access_token"])
            assert token is not None
            assert (token.subject, token.scope, token.acr, token.amr, token.sid, token.context, token.auth_time) == (
                f["subject"],
                f["scope"],
                f["acr"],
                f["amr"],
                f["sid"],
                f["context"],
                f["auth_time"],
            )
            if f["refresh_token"]:
                assert store.find_token(refresh_token=f["refresh_token"]).id == token.id
            assert token.expires_at - token.issued_at == dt.timedelta(seconds=600)


def test_a_row_that_cannot_be_written_fails_only_its_own_request(idp: Idp) -> None:
    from shared.oauth.provider.store import ProviderStore, token_values

    provider = idp.app.state.provider
    _in_app_loop(
        idp, lambda _c: provider.hot.store.insert_token(token_values(now=provider.config.clock.now(), **_token_fields(0, access="taken")))
    )
    fields = [_token_fields(n) for n in range(10, 16)] + [_token_fields(99, access="taken")]

    async def scenario(_client):
        now = provider.config.clock.now()
        return await asyncio.gather(*(provider.hot.store.insert_token(token_values(now=now, **f)) for f in fields), return_exceptions=True)

    results = _in_app_loop(idp, scenario)
    assert results[:-1] == [None] * 6 and isinstance(results[-1], Exception)
    with idp.app.state.db.session() as session:
        store = ProviderStore(session, provider.config.tables, provider.config.clock)
        assert all(store.find_token(access_token=f["access_token"]) is not None for f in fields[:-1])
        assert store.find_token(access_token="taken").subject is None  # the first row, not the refused one


def test_a_code_is_claimed_once_with_its_tokens_and_a_lost_claim_writes_nothing(idp: Idp) -> None:
    """The code grant's write on the loop: the claim of the code and the rows
    of the tokens it bought are one transaction, so a redemption that lost
    the claim to another leaves no token behind (the general path then
    answers it as a replay)."""
    from shared.oauth.provider.store import ProviderStore, code_from_row, token_values
    from shared.randomness import hash_secret
    from tests.oidc_helpers import Pkce

    provider = idp.app.state.provider
    code = idp.code_for("demo_l2", Pkce.new())
    first, second = _token_fields(200, access="claim-winner"), _token_fields(201, access="claim-loser")

    async def scenario(_client):
        store = provider.hot.store
        row = await store.code_row(hash_secret(code), "demo-rp")
        code_id, now = code_from_row(row).id, provider.config.clock.now()
        won = await store.claim_code_and_insert(code_id, now, [token_values(now=now, **{**first, "authorization_code_id": code_id})])
        lost = await store.claim_code_and_insert(code_id, now, [token_values(now=now, **{**second, "authorization_code_id": code_id})])
        return won, lost

    assert _in_app_loop(idp, scenario) == (True, False)
    with idp.app.state.db.session() as session:
        store = ProviderStore(session, provider.config.tables, provider.config.clock)
        assert store.find_token(access_token="claim-winner") is not None
        assert store.find_token(access_token="claim-loser") is None
        assert store.find_code(code=code, client_id="demo-rp").used_at is not None
