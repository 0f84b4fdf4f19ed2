"""电子营业执照核验 → 四级（原L2） and 微信扫码 login: the licence authority's
ES256 assertion for a one-time QR session, posted by the wallet, checked in
full by the provider, claimed once by the page that showed the QR code."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from services.gdzwfw_idp.settings import LICENCE_SCOPE
from services.gdzwfw_idp.verification.licence.verifier import sign_assertion
from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.journeys import account_row, audit_rows, csrf, login, qr_sid
from tests.oidc_helpers import Pkce, authorize_params, decode_id_token, query_of

L1 = {"uscc": "91440106MA5DL1A170", "org_name": "广州市天河区示范科技有限公司", "legal_rep_name": "张明"}
NEW = {"uscc": "91440305MA5DLB002T", "org_name": "深圳市南山区示范软件有限公司", "legal_rep_name": "孙磊"}


def assertion(idp: Idp, pki, sid: str, *, key: bytes | None = None, **overrides) -> str:
    now = idp.clock.timestamp()
    claims = {
        "iss": idp.settings.licence_authority_issuer,
        "aud": ISSUER,
        "sid": sid,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 120,
        "scope": LICENCE_SCOPE,
        **L1,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return sign_assertion(key or pki.licence_private_key.read_bytes(), claims)


def wallet(idp: Idp, token: str, sid: str):
    """The licence wallet's server-to-server callback."""
    return TestClient(idp.app, base_url=ISSUER).post("/licence/callback", data={"assertion": token, "sid": sid})


def verify_page(browser: TestClient):
    page = browser.get("/account/verification/licence")
    assert page.status_code == 200, page.text[:300]
    return page


def poll(browser: TestClient, page, sid: str) -> str:
    return browser.post("/qr/status", data={"csrf_token": csrf(page.text), "kind": "licence", "s": sid}).json()["status"]


def complete_verify(browser: TestClient, page, sid: str):
    return browser.post("/account/verification/licence/complete", data={"csrf_token": csrf(page.text), "s": sid}, follow_redirects=False)


# -- 电子营业执照核验 ---------------------------------------------------------------------
def test_licence_verification_raises_an_l1_unit_to_l2(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    assert "电子政务-市场监管-政务服务网" in page.text and f'data-qr-text="{ISSUER}/m/licence?s={sid}"' in page.text
    assert poll(browser, page, sid) == "pending"
    accepted = wallet(pki_idp, assertion(pki_idp, pki, sid), sid)
    assert accepted.status_code == 200 and accepted.json()["status"] == "approved"
    assert poll(browser, page, sid) == "approved"
    assert complete_verify(browser, page, sid).headers["location"] == "/account/verification"
    account = account_row(pki_idp, login_name="demo_l1")
    assert account.trust_level == "L2" and account.verification_method == "电子营业执照核验"
    last = audit_rows(pki_idp, account.id)[-1]
    assert (last.from_level, last.to_level, last.method) == ("L1", "L2", "电子营业执照核验")
    assert "电子政务-市场监管-政务服务网" in last.evidence
    assert "电子营业执照核验成功" in browser.get("/account/verification").text


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"scope": "电子政务-市场监管-其他事项"}, "scope"),
        ({"scope": None}, "scope"),
        ({"iss": "urn:someone-else"}, "issuer"),
        ({"aud": "http://127.0.0.1:9999"}, "audience"),
        ({"uscc": "91440106MA5DL1A171"}, "uscc"),
        ({"exp": 2_000_000_000}, "lifetime"),
        ({"org_name": ""}, "claims"),
    ],
    ids=["wrong-scope", "no-scope", "wrong-issuer", "wrong-audience", "invalid-uscc", "bad-lifetime", "no-name"],
)
def test_assertions_with_wrong_contents_are_refused(pki_idp: Idp, pki, overrides, code: str) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    refused = wallet(pki_idp, assertion(pki_idp, pki, sid, **overrides), sid)
    assert refused.status_code == 400 and refused.json()["error"] == code
    assert poll(browser, page, sid) == "pending"  # the QR is still usable
    assert account_row(pki_idp, login_name="demo_l1").trust_level == "L1"


def test_an_assertion_signed_by_another_key_is_refused(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    rogue = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    refused = wallet(pki_idp, assertion(pki_idp, pki, sid, key=rogue), sid)
    assert refused.status_code == 400 and refused.json()["error"] == "signature"


def test_an_unsigned_or_tampered_assertion_is_refused(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    header, payload, signature = assertion(pki_idp, pki, sid).split(".")
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["uscc"] = NEW["uscc"]
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert wallet(pki_idp, f"{header}.{tampered_payload}.{signature}", sid).json()["error"] == "signature"
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"licence-assertion+jwt"}').decode().rstrip("=")
    assert wallet(pki_idp, f"{none_header}.{payload}.", sid).json()["error"] in ("header", "signature")


def test_an_expired_assertion_is_refused(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    token = assertion(pki_idp, pki, sid)
    pki_idp.clock.advance(121)
    assert wallet(pki_idp, token, sid).json()["error"] == "expired"


def test_an_assertion_for_another_qr_session_is_refused(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    other_page = verify_page(browser)
    other_sid = qr_sid(other_page.text)
    assert wallet(pki_idp, assertion(pki_idp, pki, other_sid), sid).json()["error"] == "session"


def test_a_replayed_assertion_is_refused(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    token = assertion(pki_idp, pki, sid)
    assert wallet(pki_idp, token, sid).status_code == 200
    replay = wallet(pki_idp, token, sid)
    assert replay.status_code == 400 and replay.json()["error"] == "used"
    # The same jti for a fresh QR session is a replay too.
    fresh = qr_sid(verify_page(browser).text)
    now = pki_idp.clock.timestamp()
    same_jti = sign_assertion(
        pki.licence_private_key.read_bytes(),
        {
            "iss": pki_idp.settings.licence_authority_issuer,
            "aud": ISSUER,
            "sid": fresh,
            "jti": "jti-1",
            "iat": now,
            "exp": now + 60,
            "scope": LICENCE_SCOPE,
            **L1,
        },
    )
    assert wallet(pki_idp, same_jti, fresh).status_code == 200
    third_sid = qr_sid(verify_page(browser).text)
    replayed = sign_assertion(
        pki.licence_private_key.read_bytes(),
        {
            "iss": pki_idp.settings.licence_authority_issuer,
            "aud": ISSUER,
            "sid": third_sid,
            "jti": "jti-1",
            "iat": now,
            "exp": now + 60,
            "scope": LICENCE_SCOPE,
            **L1,
        },
    )
    assert wallet(pki_idp, replayed, third_sid).json()["error"] == "replayed"


def test_a_licence_qr_expires(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    pki_idp.clock.advance(pki_idp.settings.qr_ttl + 1)
    late = wallet(pki_idp, assertion(pki_idp, pki, sid), sid)
    assert late.status_code == 400 and late.json()["error"] == "expired"
    assert poll(browser, page, sid) == "expired"


def test_an_approved_result_is_claimed_once_and_only_by_its_browser(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    wallet(pki_idp, assertion(pki_idp, pki, sid), sid)
    thief = login(pki_idp, "demo_l1")
    thief_page = verify_page(thief)
    assert complete_verify(thief, thief_page, sid).status_code == 400
    assert complete_verify(browser, page, sid).status_code == 303
    again = complete_verify(browser, page, sid)
    assert again.status_code == 400 and "二维码已过期" in again.text


def test_another_units_licence_does_not_verify_this_unit(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    sid = qr_sid(page.text)
    wallet(pki_idp, assertion(pki_idp, pki, sid, **NEW), sid)
    refused = complete_verify(browser, page, sid)
    assert refused.status_code == 400 and "与本账号的单位/企业证件号码不一致" in refused.text
    assert account_row(pki_idp, login_name="demo_l1").trust_level == "L1"


def test_without_an_authority_key_the_licence_is_unavailable(make_idp, tmp_path) -> None:
    idp = make_idp(dev_certs_dir=str(tmp_path / "none"))
    browser = login(idp, "demo_l1")
    page = verify_page(browser)
    assert "电子营业执照核验服务暂不可用" in page.text
    sid = qr_sid(page.text)
    assert wallet(idp, "a.b.c", sid).json()["error"] == "not_configured"


# -- 微信扫码 login ------------------------------------------------------------------------
def licence_login(idp: Idp, pki, claims: dict, *, params: dict | None = None, page_url: str = "/login?tab=legal&method=wechat"):
    browser = idp.new_browser()
    if params is not None:
        first = browser.get("/authorize", params=params, follow_redirects=False)
        page = browser.get(first.headers["location"] + "&tab=legal&method=wechat")
    else:
        page = browser.get(page_url)
    assert "请您使用 <strong>【微信】</strong> 扫码登录" in page.text
    sid = qr_sid(page.text)
    assert wallet(idp, assertion(idp, pki, sid, **claims), sid).status_code == 200
    assert poll(browser, page, sid) == "approved"
    done = browser.post(
        "/login/licence/complete",
        data={"csrf_token": csrf(page.text), "interaction": form_value(page.text, "interaction"), "s": sid},
        follow_redirects=False,
    )
    return browser, done


def test_a_unit_without_an_account_logs_in_directly_and_gets_an_l2_account(pki_idp: Idp, pki) -> None:
    browser, done = licence_login(pki_idp, pki, NEW)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    account = account_row(pki_idp, uscc=NEW["uscc"])
    assert account.trust_level == "L2" and account.verification_method == "电子营业执照核验" and account.login_name == NEW["uscc"]
    (entry,) = audit_rows(pki_idp, account.id)
    assert entry.from_level is None and "无需注册，微信扫码使用电子营业执照直接登录" in entry.evidence
    assert "深圳市南山区示范软件有限公司" in browser.get("/account").text
    # No password was ever set: a password login cannot succeed.
    page = browser.get("/login")
    assert (
        browser.post(
            "/login", data={"csrf_token": csrf(page.text), "interaction": "", "tab": "legal", "login_name": NEW["uscc"], "password": "!"}
        ).status_code
        == 400
    )
    # The unit may set one (no current password to confirm).
    security = browser.get("/account/security")
    assert "尚未设置登录密码" in security.text
    assert (
        browser.post(
            "/account/security/password",
            data={"csrf_token": csrf(security.text), "new_password": "Set@pass2026", "new_password_confirm": "Set@pass2026"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    login(pki_idp, NEW["uscc"], password="Set@pass2026")


def test_licence_login_at_a_client_gives_l2(pki_idp: Idp, pki) -> None:
    pkce = Pkce.new()
    browser, done = licence_login(pki_idp, pki, L1, params=authorize_params(pkce))
    redirect = browser.get(done.headers["location"], follow_redirects=False)
    assert redirect.status_code == 302
    claims = decode_id_token(pki_idp.redeem(query_of(redirect)["code"], pkce).json()["id_token"], pki_idp.client.get("/jwks.json").json())
    # demo_l1 logged in with its licence: the verification really happened, so it is L2 now.
    assert claims["acr"] == "urn:gdzwfw:loa:L2" and claims["amr"] == ["swk"] and claims["uscc"] == L1["uscc"]
    assert account_row(pki_idp, login_name="demo_l1").trust_level == "L2"


def test_a_login_page_for_an_ended_request_shows_a_qr_that_logs_in_to_the_account(pki_idp: Idp, pki) -> None:
    # The page reads the request and makes its QR session at once: a QR made
    # for a request that has ended is not the one shown (its login would end
    # on 登录已超时), the one shown logs in to the unit's own account page.
    browser, done = licence_login(pki_idp, pki, L1, page_url="/login?interaction=EndedLongAgo0123456789&tab=legal&method=wechat")
    assert done.status_code == 303 and done.headers["location"] == "/account"


def test_licence_login_completion_needs_an_approved_session(pki_idp: Idp) -> None:
    browser = pki_idp.new_browser()
    page = browser.get("/login?tab=legal&method=wechat")
    sid = qr_sid(page.text)
    done = browser.post(
        "/login/licence/complete", data={"csrf_token": csrf(page.text), "interaction": "", "s": sid}, follow_redirects=False
    )
    assert done.status_code == 400 and "二维码已过期" in done.text


def test_the_development_wallet_page_signs_and_posts(pki_idp: Idp) -> None:
    browser = pki_idp.new_browser()
    page = browser.get("/login?tab=legal&method=wechat")
    sid = qr_sid(page.text)
    phone = pki_idp.new_browser()
    scanned = phone.get("/m/licence", params={"s": sid})
    assert "确认登录" in scanned.text and "深圳市南山区示范软件有限公司" in scanned.text
    wrong = phone.post(
        "/m/licence", data={"csrf_token": csrf(scanned.text), "s": sid, "uscc": NEW["uscc"], "scope": "电子政务-市场监管-其他事项"}
    )
    assert wrong.status_code == 400 and "授权事项" in wrong.text
    ok = phone.post("/m/licence", data={"csrf_token": csrf(scanned.text), "s": sid, "uscc": NEW["uscc"], "scope": LICENCE_SCOPE})
    assert ok.status_code == 200 and "扫码确认成功" in ok.text
    assert poll(browser, page, sid) == "approved"
