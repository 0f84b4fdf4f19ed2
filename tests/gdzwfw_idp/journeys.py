"""Steps the registration, verification and account tests repeat, driven
through the pages exactly as a browser would (forms, CSRF tokens, the QR
session's stand-in mini-programs and the SMS outbox)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from devtools.ca_helper import sign_challenge
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.gdzwfw_idp.models import Account, TrustLevelChange
from services.gdzwfw_idp.settings import IdpSettings
from shared.sms import define_sms_tables
from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.oidc_helpers import Pkce, authorize_params

__all__ = [
    "NEW_UNIT",
    "NEW_PASSWORD",
    "legal_form",
    "latest_sms_code",
    "qr_sid",
    "approve_face",
    "start_legal_registration",
    "register_legal_person",
    "login",
    "handler_login",
    "account_row",
    "audit_rows",
    "challenge_of",
    "sign_with",
    "csrf",
]

NEW_PASSWORD = "Reg@2026abc"
# In 法人基础库 (services/gdzwfw_idp/data/legal_person_registry.csv), not registered.
NEW_UNIT = {
    "org_name": "广州市海珠区示范物流有限公司",
    "uscc": "91440105MA5DLA00XW",
    "legal_rep_name": "赵敏",
    "legal_rep_id_number": "440105198203150021",
}
APPLICANT_ID = "440106199205120089"  # 林小红, in 人口库


def csrf(html: str) -> str:
    return form_value(html, "csrf_token")


def legal_form(**overrides: str) -> dict[str, str]:
    form = {
        "login_name": "haizhu_wl01",
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
        **NEW_UNIT,
        "province": "广东省",
        "city": "广州市",
        "district": "海珠区",
        "address_detail": "新港中路500号",
        "mobile": "13912345678",
        "agree": "yes",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def latest_sms_code(idp: Idp, mobile: str) -> str:
    tables = define_sms_tables(__import__("sqlalchemy").MetaData())
    with idp.app.state.db.transaction() as db:
        body = db.execute(
            select(tables.outbox.c.body).where(tables.outbox.c.mobile == mobile).order_by(tables.outbox.c.id.desc()).limit(1)
        ).scalar_one()
    return re.search(r"\d{6}", body).group(0)


def send_sms(browser: TestClient, page_html: str, *, mobile: str, purpose: str, **extra: str) -> httpx.Response:
    return browser.post("/sms/send", data={"csrf_token": csrf(page_html), "mobile": mobile, "purpose": purpose, **extra})


def qr_sid(html: str) -> str:
    return re.search(r'data-qr data-kind="\w+" data-sid="([^"]+)"', html).group(1)


def approve_face(browser: TestClient, page_html: str, *, id_number: str = APPLICANT_ID) -> httpx.Response:
    """The applicant scans the 小程序码 (the stand-in approves it) and the page polls."""
    sid = qr_sid(page_html)
    scanner = TestClient(browser.app, base_url=str(browser.base_url))  # the phone: another user agent
    scanned = scanner.get("/m/face", params={"s": sid})
    assert scanned.status_code == 200, scanned.text[:300]
    done = scanner.post("/m/face", data={"csrf_token": csrf(scanned.text), "s": sid, "id_number": id_number})
    assert done.status_code == 200, done.text[:500]
    return browser.post("/qr/status", data={"csrf_token": csrf(page_html), "kind": "face", "s": sid})


def start_legal_registration(idp: Idp, browser: TestClient, **overrides: str) -> httpx.Response:
    """Step 1 with a face check and an SMS code; returns the step-1 POST response."""
    page = browser.get("/register/legal")
    assert page.status_code == 200
    assert approve_face(browser, page.text).json()["status"] == "approved"
    form = legal_form(**overrides)
    if "sms_code" not in overrides:
        sent = send_sms(browser, page.text, mobile=form["mobile"], purpose="register-legal")
        assert sent.json()["sent"], sent.text
        form["sms_code"] = latest_sms_code(idp, form["mobile"])
    return browser.post("/register/legal", data={"csrf_token": csrf(page.text), **form}, follow_redirects=False)


def register_legal_person(idp: Idp, browser: TestClient | None = None, **overrides: str) -> TestClient:
    browser = browser or idp.new_browser()
    step1 = start_legal_registration(idp, browser, **overrides)
    assert step1.status_code == 303, step1.text[:2000]
    step2 = browser.get("/register/legal/verify")
    done = browser.post("/register/legal/verify", data={"csrf_token": csrf(step2.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/register/done", done.text[:2000]
    return browser


def login(idp: Idp, login_name: str, *, password: str = DEMO_PASSWORD, tab: str = "legal", browser: TestClient | None = None) -> TestClient:
    browser = browser or idp.new_browser()
    page = browser.get(f"/login?tab={tab}")
    done = browser.post(
        "/login",
        data={"csrf_token": csrf(page.text), "interaction": "", "tab": tab, "login_name": login_name, "password": password},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:500]
    return browser


def handler_login(idp: Idp, browser: TestClient, *, unit_login: str, **extra: str) -> tuple[Pkce, httpx.Response]:
    """法人登录 → 经办人登录 (demo_person) → choose the unit → back at the client."""
    pkce = Pkce.new()
    first = browser.get("/authorize", params=authorize_params(pkce, **extra), follow_redirects=False)
    page = browser.get(first.headers["location"] + "&tab=legal&method=password&handler=1")
    assert "经办人登录" in page.text
    chosen = browser.post(
        "/login",
        data={
            "csrf_token": csrf(page.text),
            "interaction": form_value(page.text, "interaction"),
            "tab": "legal",
            "handler": "1",
            "login_name": "demo_person",
            "password": DEMO_PASSWORD,
        },
        follow_redirects=False,
    )
    assert chosen.headers["location"].startswith("/login/choose?interaction=")
    choose = browser.get(chosen.headers["location"])
    unit_id = account_row(idp, login_name=unit_login).id
    assert unit_id in choose.text
    resumed = browser.post(
        "/login/choose",
        data={"csrf_token": csrf(choose.text), "interaction": form_value(choose.text, "interaction"), "legal_person_id": unit_id},
        follow_redirects=False,
    )
    return pkce, browser.get(resumed.headers["location"], follow_redirects=False)


def account_row(idp: Idp, **where: str) -> Account | None:
    with idp.app.state.db.transaction() as db:
        stmt = select(Account)
        for key, value in where.items():
            stmt = stmt.where(getattr(Account, key) == value)
        row = db.execute(stmt).scalar_one_or_none()
        if row is not None:
            db.expunge(row)
        return row


def audit_rows(idp: Idp, account_id: str) -> list[TrustLevelChange]:
    with idp.app.state.db.transaction() as db:
        rows = list(
            db.execute(select(TrustLevelChange).where(TrustLevelChange.account_id == account_id).order_by(TrustLevelChange.id)).scalars()
        )
        db.expunge_all()
        return rows


def challenge_of(html: str) -> tuple[str, str]:
    """(nonce, challenge text) from a certificate page."""
    nonce = form_value(html, "nonce")
    text = re.search(r'<div class="code-box" id="challenge">([^<]+)</div>', html).group(1)
    return nonce, text


def sign_with(p12: Path, challenge: str, pin: str = "123456") -> str:
    return sign_challenge(p12.read_bytes(), pin, challenge)


def settings_of(idp: Idp) -> IdpSettings:
    return idp.settings
