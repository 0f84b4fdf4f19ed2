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
