"""demo-rp, the development client registered at both providers, driven
over real HTTP the way a browser and a back end do: the integration tests
and the benches (``make bench-chain``) log in through the chain with it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc.jwk import ECKey

from devtools.stack import StackConfig
from services.gdzwfw_idp.demo import DEMO_PASSWORD

__all__ = [
    "DEMO_RP",
    "DEMO_REDIRECT",
    "DEMO_FAPI_ID",
    "demo_fapi_key",
    "REFUND_SCOPE",
    "Pkce",
    "authorize_params",
    "query_of",
    "form_value",
    "login_at_gdzwfw",
    "isso_tokens",
]

DEMO_RP = ("demo-rp", "demo-rp-secret")
DEMO_REDIRECT = "http://127.0.0.1:8099/cb"
DEMO_FAPI_ID = "demo-fapi"
# demo-fapi's private key (development only, like demo-rp's secret): it signs
# private_key_jwt assertions and DPoP proofs as the FAPI 2.0 profile asks.
DEMO_FAPI_KEY_FILE = Path(__file__).with_name("demo_fapi_key.json")


def demo_fapi_key() -> ECKey:
    return ECKey.import_key(json.loads(DEMO_FAPI_KEY_FILE.read_text()))


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


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no form field {name!r} on the page"
    return match.group(1)


def login_at_gdzwfw(browser: httpx.Client, page: httpx.Response, login_name: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    """Submit gdzwfw_idp's 法人登录 → 账号密码 form shown in ``page``."""
    assert "法人登录" in page.text, page.text[:500]
    action = str(page.url.copy_with(path="/login", query=None))
    return browser.post(
        action,
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "interaction": form_value(page.text, "interaction"),
            "tab": "legal",
            "login_name": login_name,
            "password": password,
        },
    )


REFUND_SCOPE = "openid profile refund.read refund.confirm"


def isso_tokens(stack: StackConfig, login_name: str, **params: str) -> dict:
    """demo-rp's authorization-code flow at hrss_isso, federating to
    gdzwfw_idp; by default asking for both of the refund API's scopes."""
    isso = stack.base("hrss_isso")
    pkce = Pkce.new()
    with httpx.Client() as browser:
        response = browser.get(f"{isso}/authorize", params=authorize_params(pkce, **{"scope": REFUND_SCOPE, **params}))
        assert response.status_code == 303, response.text[:300]
        login_page = browser.get(response.headers["location"])
        start = re.search(r'id="gdzwfw-login" href="([^"]+)"', login_page.text).group(1)
        idp_page = browser.get(str(login_page.url.join(start)), follow_redirects=True)
        response = login_at_gdzwfw(browser, idp_page, login_name)
        while response.status_code in (302, 303) and not response.headers["location"].startswith("http://127.0.0.1:8099/"):
            response = browser.get(response.url.join(response.headers["location"]))
        assert response.status_code == 302, response.text[:500]
        query = query_of(response)
        assert query["iss"] == isso
    token = httpx.post(
        f"{isso}/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": "http://127.0.0.1:8099/cb",
            "code_verifier": pkce.verifier,
        },
        auth=DEMO_RP,
    )
    assert token.status_code == 200, token.text
    return token.json()
