"""Both hops of the chain over real HTTP as registered in development: the
ISSO at gdzwfw_idp and the portal at the ISSO authenticate with
private_key_jwt (keys derived at start-up, published at their jwks_uri) and
must push their authorization requests; their secrets no longer open the
token endpoint, a request not pushed is refused, and the tokens they get are
DPoP-bound (both are registered with the FAPI 2.0 profile). The logins themselves
(test_chain.py, test_step_up.py) go through PAR and private_key_jwt. gdzwfw_idp
runs here wanting server nonces in DPoP proofs, which the ISSO supplies."""

from __future__ import annotations

import time

import httpx
import pytest
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, text

from devtools.stack import StackConfig
from shared.oauth.provider.dpop import make_proof
from tests.chain_helpers import portal_login
from tests.oidc_helpers import Pkce, authorize_params, client_key, query_of

HOPS = {
    # provider, its token endpoint, the relying party's client id, its secret there, its redirect and jwks URIs
    "isso-at-gdzwfw": ("gdzwfw_idp", "", "hrss-isso", "isso_secret_at_gdzwfw", "/isso/federation/gdzwfw/callback", "hrss_isso"),
    "portal-at-isso": ("hrss_isso", "/isso", "refund-portal", "refund_secret_at_isso", "/auth/callback", "refund_portal"),
}


@pytest.mark.parametrize("hop", list(HOPS))
def test_the_relying_party_publishes_its_key_and_its_secret_no_longer_opens_the_token_endpoint(stack: StackConfig, hop: str) -> None:
    provider, prefix, client_id, secret_field, _, rp = HOPS[hop]
    meta = httpx.get(f"{stack.url(provider)}{prefix}/.well-known/openid-configuration").json()
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"] and meta["pushed_authorization_request_endpoint"]
    jwks_path = "/isso/federation/gdzwfw/jwks.json" if rp == "hrss_isso" else "/auth/jwks.json"
    keys = KeySet.import_key_set(httpx.get(stack.url(rp) + jwks_path).json())
    assert len(keys.keys) == 1 and not keys.keys[0].is_private
    answer = httpx.post(
        meta["token_endpoint"],
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": "http://x"},
        auth=(client_id, getattr(stack, secret_field)),
    )
    assert answer.status_code == 401 and answer.json()["error_description"] == "client must authenticate with private_key_jwt"


@pytest.mark.parametrize("hop", list(HOPS))
def test_a_request_the_relying_party_did_not_push_is_refused(stack: StackConfig, hop: str) -> None:
    provider, prefix, client_id, _, redirect_path, rp = HOPS[hop]
    redirect_uri = stack.url(rp) + redirect_path
    params = authorize_params(Pkce.new(), client_id=client_id, redirect_uri=redirect_uri)
    answer = httpx.get(f"{stack.url(provider)}{prefix}/authorize", params=params)
    assert answer.status_code == 302 and answer.headers["location"].startswith(redirect_uri + "?")
    assert query_of(answer)["error"] == "invalid_request" and "code" not in query_of(answer)


def test_the_login_through_both_hops_carries_only_request_uris_in_the_browser(stack: StackConfig) -> None:
    visited: list[httpx.URL] = []
    with httpx.Client(follow_redirects=True, event_hooks={"request": [lambda request: visited.append(request.url)]}) as browser:
        admitted = portal_login(browser, stack.url("refund_portal"), "demo_l2")
    assert admitted.status_code == 200 and "四级（原L2）" in admitted.text
    authorize_hops = [str(url) for url in visited if url.path.endswith("/authorize")]
    assert {httpx.URL(url).port for url in authorize_hops} == {stack.ports["gdzwfw_idp"], stack.ports["hrss_isso"]}, authorize_hops
    for url in authorize_hops:
        query = httpx.URL(url).params
        assert set(query.keys()) == {"client_id", "request_uri"}, url


def test_both_hops_hold_only_dpop_bound_tokens_after_a_login(stack: StackConfig) -> None:
    """Registered as FAPI 2.0 clients, the ISSO and the portal prove a DPoP
    key at their provider's token endpoint: every token either provider
    issued to them is bound to a key (the providers' own token tables say so)."""
    with httpx.Client(follow_redirects=True) as browser:
        assert portal_login(browser, stack.url("refund_portal"), "demo_l2").status_code == 200
    for provider, client_id in (("gdzwfw_idp", "hrss-isso"), ("hrss_isso", "refund-portal")):
        engine = create_engine(stack.database_urls[provider])
        try:
            with engine.connect() as db:
                rows = db.execute(text("SELECT dpop_jkt FROM oauth_token WHERE client_id = :c"), {"c": client_id}).all()
        finally:
            engine.dispose()
        assert rows and all(jkt for (jkt,) in rows), (provider, rows)


def test_the_isso_sends_its_token_request_again_with_gdzwfws_dpop_nonce(stack: StackConfig) -> None:
    """RFC 9449 §8: gdzwfw_idp (``GDZWFW_DPOP_NONCE_REQUIRED``, conftest)
    answers a proof without its nonce with ``use_dpop_nonce`` and a
    ``DPoP-Nonce``. The ISSO's first token request there carries no nonce: it
    is sent again with the one given (its log says so once), and from then on
    the nonce goes into every proof; the logins complete with bound tokens."""
    meta = httpx.get(f"{stack.url('gdzwfw_idp')}/.well-known/openid-configuration").json()
    proof = make_proof(client_key(), "ES256", method="POST", url=meta["token_endpoint"], now=int(time.time()))
    answer = httpx.post(meta["token_endpoint"], data={"grant_type": "authorization_code", "code": "x"}, headers={"DPoP": proof})
    assert answer.status_code == 400 and answer.json()["error"] == "use_dpop_nonce" and answer.headers["dpop-nonce"], answer.text
    for _ in range(2):
        with httpx.Client(follow_redirects=True) as browser:
            assert portal_login(browser, stack.url("refund_portal"), "demo_l2").status_code == 200
    log = (stack.work_dir / "hrss_isso.log").read_text(encoding="utf-8").splitlines()
    retries = [line for line in log if "token request retried with the provider's DPoP nonce" in line]
    assert len(retries) == 1, retries
