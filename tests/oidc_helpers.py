"""Small helpers for driving an OpenID provider in tests."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

__all__ = ["Pkce", "authorize_params", "query_of", "decode_id_token", "run", "DEMO_RP", "DEMO_REDIRECT"]

DEMO_RP = ("demo-rp", "demo-rp-secret")
DEMO_REDIRECT = "http://127.0.0.1:8099/cb"


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def authorize_params(pkce: Pkce | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": DEMO_RP[0],
        "redirect_uri": DEMO_REDIRECT,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    if pkce is not None:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def query_of(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def decode_id_token(id_token: str, jwks: dict) -> dict:
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    return dict(token.claims)


def essential_acr_claims(*levels: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(levels)}}})


def run(coroutine_factory):
    """Run a coroutine to completion on a fresh loop in another thread (the
    browser tests' Playwright keeps an event loop on the main thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


def capture_logout_notices(provider) -> list[tuple[str, str]]:
    """The back-channel logout notices the provider sends, as (uri, logout
    token), at its outbox's HTTP transport; every client answers 200."""
    notices: list[tuple[str, str]] = []

    def receive(request: httpx.Request) -> httpx.Response:
        notices.append((str(request.url), parse_qs(request.content.decode())["logout_token"][0]))
        return httpx.Response(200)

    provider.outbox.transport = httpx.MockTransport(receive)
    return notices
