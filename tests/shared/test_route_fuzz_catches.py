"""The route fuzzer (tests/route_fuzz.py) does find a route that breaks on
hostile input: the service fuzz tests can fail."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.route_fuzz import fuzz_app


def test_a_route_that_breaks_on_a_huge_id_is_reported() -> None:
    app = FastAPI()

    @app.get("/records/{record_id}")
    async def record(record_id: str) -> dict:
        return {"id": int(record_id) < 2**31 or 1 // 0}  # breaks past INTEGER, like a database would

    @app.post("/forms")
    async def forms() -> dict:
        return {}

    failures = fuzz_app(TestClient(app, raise_server_exceptions=False))
    assert failures and all(f.startswith("GET /records/") for f in failures)
    assert any("2147483648" in f for f in failures)


def test_a_route_that_ends_the_session_is_reported_not_walked_past() -> None:
    app = FastAPI()
    state = {"logged_in": True}

    @app.get("/me")
    async def me() -> dict:
        return {"logged_in": state["logged_in"]}

    @app.post("/quit")
    async def quit_() -> dict:
        state["logged_in"] = False
        return {}

    def logged_in(client: TestClient) -> bool:
        return client.get("/me").json()["logged_in"]

    client = TestClient(app)
    assert fuzz_app(client, logged_in=logged_in) == ["/quit ended the session"]
    assert fuzz_app(client, logged_in=logged_in) == ["the session is not logged in before the walk"]
    state["logged_in"] = True
    assert fuzz_app(client, logged_in=logged_in, skip=("/quit",)) == []
