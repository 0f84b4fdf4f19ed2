"""One-time sessions (QR codes) and challenges are single-use even when
requests race (STYLE habit 11: every single-use credential gets a concurrency test)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

from services.gdzwfw_idp.qr.sessions import OneTimeSessions
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import challenge_of, csrf, login, sign_with


def sessions(idp: Idp) -> OneTimeSessions:
    return idp.app.state.idp.qr


def created_in_app_loop(idp: Idp, kind: str, **fields):
    """A new session, created in the loop that serves the app (where its store's connections live)."""
    return idp.client.portal.call(partial(sessions(idp).create, kind, **fields))


def test_lifecycle(idp: Idp) -> None:
    qr = sessions(idp)
    created = created_in_app_loop(idp, "face", owner="me", data={"purpose": "register"})
    assert qr.peek("face", created.id).data == {"purpose": "register"}
    assert qr.status("face", created.id, owner="me") == "pending"
    assert qr.status("face", created.id, owner="someone") == "expired"
    assert qr.approve("face", created.id, {"name": "x"}) == "approved"
    assert qr.status("face", created.id, owner="me") == "approved"
    assert qr.approve("face", created.id, {"name": "y"}) == "used"
    assert qr.claim("face", created.id, owner="someone") is None
    assert qr.claim("face", created.id, owner="me") == ({"name": "x"}, {"purpose": "register"})
    assert qr.claim("face", created.id, owner="me") is None
    assert qr.status("face", created.id, owner="me") == "used"


def test_a_kind_does_not_serve_another(idp: Idp) -> None:
    qr = sessions(idp)
    created = created_in_app_loop(idp, "face", owner="me")
    assert qr.approve("licence", created.id, {}) == "expired"
    assert qr.approve("face", created.id, {}) == "approved"


def test_expiry(idp: Idp) -> None:
    qr = sessions(idp)
    created = created_in_app_loop(idp, "licence", owner="me")
    idp.clock.advance(idp.settings.qr_ttl)
    assert qr.approve("licence", created.id, {}) == "expired"
    assert qr.status("licence", created.id, owner="me") == "expired"


def test_racing_approvals_approve_once(idp: Idp) -> None:
    qr = sessions(idp)
    created = created_in_app_loop(idp, "face", owner="me")
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda n: qr.approve("face", created.id, {"n": n}), range(8)))
    assert outcomes.count("approved") == 1


def test_racing_claims_claim_once(idp: Idp) -> None:
    qr = sessions(idp)
    created = created_in_app_loop(idp, "face", owner="me")
    qr.approve("face", created.id, {"n": 1})
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: qr.claim("face", created.id, owner="me"), range(8)))
    assert sum(c is not None for c in claims) == 1


def test_racing_certificate_submissions_verify_once(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = browser.get("/account/verification/bank")
    nonce, challenge = challenge_of(page.text)
    response = sign_with(pki.unit_p12("91440106MA5DL1A170", "bank"), challenge)

    def submit(_):
        return browser.post(
            "/account/verification/bank", data={"csrf_token": csrf(page.text), "nonce": nonce, "response": response}, follow_redirects=False
        ).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(submit, range(6)))
    assert statuses.count(303) == 1 and statuses.count(400) == 5
