"""The client-credentials grant and introspection on the event loop
(shared/oauth/provider/hot_paths.py): the same answers as the general path,
under concurrency, with revocation seen at once. On PostgreSQL the rows go
through asyncpg in coalesced batches."""

from __future__ import annotations

import asyncio

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
