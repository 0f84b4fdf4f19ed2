"""The three services as real uvicorn processes on free loopback ports."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest

from devtools.stack import SERVICES, Stack, StackConfig, database_urls, drop_databases, free_port
from tests.chain_helpers import login_at_gdzwfw
from tests.conftest import TEST_DATABASE_URL
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, query_of
from tests.redis_run import stack_redis

CACHE_SECONDS = 1


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    tmp = tmp_path_factory.mktemp("stack")
    config = StackConfig(
        database_urls=database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp, suffix=f"_it{os.getpid()}"),
        ports={name: free_port() for name in SERVICES},
        extra_env={"refund_portal": {"REFUND_INTROSPECTION_CACHE_SECONDS": str(CACHE_SECONDS)}},
        work_dir=tmp,
        **stack_redis("it"),
    )
    running = Stack(config, log_dir=tmp)
    running.migrate()
    try:
        running.start()
        yield config
    finally:
        running.stop()
        drop_databases(config.database_urls)


# demo-rp is registered at hrss_isso for the refund API's scopes (development).
REFUND_SCOPE = "openid profile refund.read refund.confirm"


def isso_tokens(stack: StackConfig, login_name: str, **params: str) -> dict:
    """demo-rp's authorization-code flow at hrss_isso, federating to
    gdzwfw_idp; by default asking for both of the refund API's scopes."""
    isso = f"{stack.url('hrss_isso')}/isso"
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
        data={"grant_type": "authorization_code", "code": query["code"], "redirect_uri": "http://127.0.0.1:8099/cb", "code_verifier": pkce.verifier},
        auth=DEMO_RP,
    )
    assert token.status_code == 200, token.text
    return token.json()
