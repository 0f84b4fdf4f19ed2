"""Back-channel logout notices through the outbox: tried right after the
logout, retried by the worker with exponential backoff until the client
is back, given up when too old, never sent by two workers at once."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from urllib.parse import parse_qs

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from shared.clock import as_utc
from shared.oauth.backchannel import LogoutTokenValidator
from shared.oauth.client import RelyingParty
from shared.settings import ClientConfig
from shared.worker import Worker
from tests.gdzwfw_idp.conftest import ISSUER
from tests.oidc_helpers import Pkce, authorize_params, query_of, run

BC = ("bc-rp", "bc-rp-secret")
REDIRECT = "http://127.0.0.1:8099/cb"
BACKCHANNEL = "http://127.0.0.1:8099/backchannel-logout"


class RelyingPartyEndpoint:
    """The client's back-channel endpoint at the outbox's HTTP transport: down
    (connection refused) until ``up``; what it received while up."""

    def __init__(self) -> None:
        self.up = False
        self.status = 200
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        self.received.append(parse_qs(request.content.decode())["logout_token"][0])
        return httpx.Response(self.status)


@pytest.fixture
def idp(make_idp):
    idp = make_idp(
        clients=[ClientConfig(client_id=BC[0], client_secret=BC[1], redirect_uris=[REDIRECT], backchannel_logout_uri=BACKCHANNEL)]
    )
    return idp


def _endpoint(idp) -> RelyingPartyEndpoint:
    endpoint = RelyingPartyEndpoint()
    idp.app.state.provider.outbox.transport = httpx.MockTransport(endpoint)
    return endpoint


def _log_in_and_out(idp) -> None:
    pkce = Pkce.new()
    browser = idp.new_browser()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, client_id=BC[0]), browser=browser)
    tokens = idp.redeem(query_of(redirect)["code"], pkce, auth=BC, client=browser).json()
    browser.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": BC[0]}, follow_redirects=False)


def _worker(idp) -> Worker:
    return Worker(outbox=idp.app.state.provider.outbox, purge=lambda: 0, clock=idp.clock, purge_every=3600)


def _rows(idp) -> list:
    table = idp.app.state.provider.config.tables.logout_outbox
    with idp.app.state.db.transaction() as s:
        return s.execute(select(table).order_by(table.c.id)).all()


def _deliveries(attempt: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("backchannel_logout_deliveries_total", {"attempt": attempt, "outcome": outcome}) or 0.0


def _validator(idp) -> LogoutTokenValidator:
    rp = RelyingParty(
        name="bc", issuer=ISSUER, client_id=BC[0], client_secret=BC[1], redirect_uri=REDIRECT, transport=httpx.ASGITransport(app=idp.app)
    )
    return LogoutTokenValidator(rp=rp, kv=idp.app.state.kv, clock=idp.clock)


def test_a_client_that_is_up_gets_the_notice_at_once_and_the_outbox_is_left_empty(idp) -> None:
    endpoint = _endpoint(idp)
    endpoint.up = True
    before = _deliveries("first", "delivered")
    _log_in_and_out(idp)
    assert len(endpoint.received) == 1 and _rows(idp) == []
    assert _deliveries("first", "delivered") == before + 1


def test_a_notice_to_a_client_that_is_down_is_delivered_when_it_comes_back(idp, caplog) -> None:
    caplog.set_level(logging.INFO, logger="oauth.backchannel.outbox")
    endpoint = _endpoint(idp)
    worker = _worker(idp)
    failed, retried = _deliveries("first", "failed"), _deliveries("retry", "failed")
    _log_in_and_out(idp)

    # The attempt right after the logout failed: kept, due again in 10 s.
    [row] = _rows(idp)
    assert row.attempts == 1 and endpoint.received == []
    assert _deliveries("first", "failed") == failed + 1
    assert worker.step() == 0  # not due yet: nothing sent
    assert _rows(idp)[0].attempts == 1

    # Backoff doubles while the client stays down: 10 s, then 20 s, then 40 s.
    waits = []
    for _ in range(2):
        idp.clock.advance(_seconds_until_due(idp))
        assert worker.step() == 0
        waits.append(_seconds_until_due(idp))
    assert waits == [20, 40]
    assert _deliveries("retry", "failed") == retried + 2

    endpoint.up = True
    idp.clock.advance(40)
    assert worker.step() == 1
    assert _rows(idp) == []
    # Signed at delivery time, so a relying party accepts it however late it comes.
    claims = run(lambda: _validator(idp).validate(endpoint.received[0]))
    assert claims["aud"] == BC[0] and claims["sid"] and claims["iat"] == idp.clock.timestamp()
    messages = [r.getMessage() for r in caplog.records if r.name == "oauth.backchannel.outbox"]
    assert messages.count("back-channel logout failed: will retry") == 3 and messages[-1] == "back-channel logout delivered"


def _seconds_until_due(idp) -> int:
    return int((as_utc(_rows(idp)[0].next_attempt_at) - idp.clock.now()).total_seconds())


def test_a_notice_undelivered_after_the_max_age_is_given_up_with_a_log_line(idp, caplog) -> None:
    _endpoint(idp)
    worker = _worker(idp)
    given_up = REGISTRY.get_sample_value("backchannel_logout_given_up_total", {"reason": "too_old"}) or 0.0
    _log_in_and_out(idp)
    idp.clock.advance(idp.app.state.provider.outbox.max_age)
    with caplog.at_level(logging.ERROR, logger="oauth.backchannel.outbox"):
        assert worker.step() == 0
    assert _rows(idp) == []
    assert "back-channel logout given up: client unreachable too long" in caplog.text
    assert REGISTRY.get_sample_value("backchannel_logout_given_up_total", {"reason": "too_old"}) == given_up + 1


def test_a_notice_the_client_refuses_is_not_retried(idp) -> None:
    endpoint = _endpoint(idp)
    endpoint.up, endpoint.status = True, 400
    _log_in_and_out(idp)
    assert len(endpoint.received) == 1 and _rows(idp) == []


def test_a_claimed_notice_is_left_alone_until_its_lease_ends(idp) -> None:
    outbox = idp.app.state.provider.outbox
    with idp.app.state.db.transaction() as s:
        outbox.enqueue(s, client_id=BC[0], uri=BACKCHANNEL, subject="s", sid="sid-1")
    assert len(outbox._claim(None)) == 1
    assert outbox._claim(None) == []  # another process's claim finds nothing
    idp.clock.advance(outbox.lease + 1)  # the first process died while sending
    assert len(outbox._claim(None)) == 1


def test_two_workers_never_deliver_the_same_notice(idp) -> None:
    """Run on PostgreSQL too (TEST_DATABASE_URL): SELECT … FOR UPDATE SKIP LOCKED."""
    outbox = idp.app.state.provider.outbox
    outbox.batch = 3
    with idp.app.state.db.transaction() as s:
        for n in range(12):
            outbox.enqueue(s, client_id=BC[0], uri=BACKCHANNEL, subject="s", sid=f"sid-{n}")
    sent: list[str] = []
    lock = threading.Lock()

    def receive(request: httpx.Request) -> httpx.Response:
        time.sleep(0.01)  # both workers are sending at the same moment
        with lock:
            sent.append(parse_qs(request.content.decode())["logout_token"][0])
        return httpx.Response(200)

    outbox.transport = httpx.MockTransport(receive)
    start = threading.Barrier(2)
    delivered = [0, 0]

    def work(n: int) -> None:
        start.wait()
        while (done := outbox.deliver()) > 0:
            delivered[n] += done

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sids = sorted(_sid(token) for token in sent)
    assert sids == sorted(f"sid-{n}" for n in range(12))  # each once
    assert sum(delivered) == 12 and all(delivered)
    table = idp.app.state.provider.config.tables.logout_outbox
    with idp.app.state.db.transaction() as s:
        assert s.execute(select(func.count()).select_from(table)).scalar_one() == 0


def _sid(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sid"]
