"""Behind the load balancer: X-Forwarded-For and X-Request-ID are believed
only from a peer listed in *_TRUSTED_PROXIES, on the fast lane and through
the middleware alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import MetaData

from shared.kvstore import define_kv_table
from shared.settings import ServiceSettings
from shared.web.app import Runtime, build_app

PROXY = "10.20.0.2"
PROXIES = f"{PROXY},192.0.2.0/24"


@pytest.fixture
def app_with(tmp_path: Path) -> Iterator:
    runtimes: list[Runtime] = []

    def make(trusted_proxies: str):
        settings = ServiceSettings(
            database_url=f"sqlite:///{tmp_path / f'proxies{len(runtimes)}.db'}",
            secret_key="test-secret-key-test-secret-key-0123456789",
            public_url="http://127.0.0.1:8009",
            trusted_proxies=trusted_proxies,
        )
        runtime = Runtime.create(settings, namespace="proxies", kv_table=define_kv_table(MetaData()))
        runtimes.append(runtime)
        app = build_app(runtime=runtime, service_name="proxies", title="proxies", template_dirs=[], cookie_name="p_sid", brand="p")

        @app.get("/whoami")
        async def whoami(request: Request) -> dict:
            return {"client": request.client.host if request.client else None, "scheme": request.url.scheme}

        return app

    yield make
    for runtime in runtimes:
        runtime.db.dispose()


# /healthz is answered by the fast lane, /whoami by FastAPI behind the middleware.
@pytest.mark.parametrize("path", ["/healthz", "/whoami"])
@pytest.mark.parametrize("peer", ["203.0.113.9", "testclient"])
def test_an_untrusted_peers_request_id_is_ignored(app_with, path: str, peer: str) -> None:
    client = TestClient(app_with(PROXIES), client=(peer, 4000))
    response = client.get(path, headers={"X-Request-ID": "forged-id-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != "forged-id-1"
    assert len(response.headers["x-request-id"]) == 16  # secrets.token_hex(8)


@pytest.mark.parametrize("path", ["/healthz", "/whoami"])
@pytest.mark.parametrize("peer", [PROXY, "192.0.2.77"])
def test_a_trusted_proxys_request_id_is_used(app_with, path: str, peer: str) -> None:
    client = TestClient(app_with(PROXIES), client=(peer, 4000))
    response = client.get(path, headers={"X-Request-ID": "lb-abc.123"})
    assert response.headers["x-request-id"] == "lb-abc.123"
    odd = client.get(path, headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] != "bad id\twith spaces"


def test_without_trusted_proxies_no_request_id_is_believed(app_with) -> None:
    client = TestClient(app_with(""), client=(PROXY, 4000))
    assert client.get("/healthz", headers={"X-Request-ID": "lb-abc.123"}).headers["x-request-id"] != "lb-abc.123"


def test_the_client_address_comes_from_a_trusted_proxy_only(app_with) -> None:
    """The per-address login limit counts this address: the proxy's own without trust."""
    headers = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
    trusted = TestClient(app_with(PROXIES), client=(PROXY, 4000)).get("/whoami", headers=headers).json()
    assert trusted == {"client": "198.51.100.7", "scheme": "https"}
    untrusted = TestClient(app_with(PROXIES), client=("203.0.113.9", 4000)).get("/whoami", headers=headers).json()
    assert untrusted == {"client": "203.0.113.9", "scheme": "http"}
    unset = TestClient(app_with(""), client=(PROXY, 4000)).get("/whoami", headers=headers).json()
    assert unset == {"client": PROXY, "scheme": "http"}
