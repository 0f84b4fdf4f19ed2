"""网银证书核验 → 四级（原L2）, 企业/单位CA证书核验 → 五级（原L3）, and the
网银证书 / CA证书 logins they open, against the project's test PKI
(devtools.certs) with the 「CA助手」 stand-in (devtools.ca_helper)."""

from __future__ import annotations

import base64
import json

import pytest

from devtools.ca_helper import WrongPin, sign_challenge
from devtools.ca_helper import main as ca_helper_main
from services.gdzwfw_idp.verification.certificate.verifier import (
    CertificateError,
    CertificateVerifier,
    challenge_text,
    decode_response,
    encode_response,
)
from shared.clock import FrozenClock
from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row, audit_rows, challenge_of, csrf, login, sign_with
from tests.oidc_helpers import Pkce, authorize_params, decode_id_token, query_of

L2_UNIT = "91440104MA5DL2B24P"  # demo_l2
L1_UNIT = "91440106MA5DL1A170"  # demo_l1
CHALLENGE = challenge_text(purpose="bank-verify", nonce="n-1", issuer="http://127.0.0.1:8001")


@pytest.fixture
def verifier(pki) -> CertificateVerifier:
    return CertificateVerifier(
        bank_anchors=[str(p) for p in pki.bank_anchors],
        ca_anchors=[str(p) for p in pki.ca_anchors],
        crls=[str(p) for p in pki.crls],
        clock=FrozenClock(),
    )


def check(verifier: CertificateVerifier, p12, *, kind: str = "bank", challenge: str = CHALLENGE, expected: str = CHALLENGE):
    return verifier.verify(kind=kind, response=sign_with(p12, challenge), expected_challenge=expected)


# -- the verifier, one check at a time ---------------------------------------------------
def test_a_bank_certificate_verifies_and_names_its_unit(verifier, pki) -> None:
    cert = check(verifier, pki.unit_p12(L2_UNIT, "bank"))
    assert cert.uscc == L2_UNIT and cert.org_name == "广州市越秀区示范贸易有限公司"
    assert "示范银行企业网银CA" in cert.issuer and len(cert.fingerprint_sha256) == 64


def test_an_enterprise_ca_certificate_verifies(verifier, pki) -> None:
    assert check(verifier, pki.unit_p12(L2_UNIT, "ca"), kind="ca").uscc == L2_UNIT


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("expired", "expired"),
        ("not-yet-valid", "not_yet_valid"),
        ("revoked", "revoked"),
        ("encryption-only", "key_usage"),
        ("forged", "untrusted"),
    ],
)
def test_bad_certificates_are_refused(verifier, pki, name: str, code: str) -> None:
    with pytest.raises(CertificateError) as failure:
        check(verifier, pki.bad_p12(name))
    assert failure.value.code == code


def test_the_chain_must_reach_the_anchors_of_the_kind(verifier, pki) -> None:
    with pytest.raises(CertificateError) as bank_as_ca:
        check(verifier, pki.unit_p12(L2_UNIT, "bank"), kind="ca")
    assert bank_as_ca.value.code == "untrusted" and "CA证书颁发机构" in bank_as_ca.value.message
    with pytest.raises(CertificateError) as ca_as_bank:
        check(verifier, pki.unit_p12(L2_UNIT, "ca"), kind="bank")
    assert ca_as_bank.value.code == "untrusted"


def test_a_chain_without_its_intermediate_is_refused(verifier, pki) -> None:
    challenge, certs, signature = decode_response(sign_with(pki.unit_p12(L2_UNIT, "bank"), CHALLENGE))
    leaf_only = encode_response(challenge=challenge, certificates=certs[:1], signature=signature)
    with pytest.raises(CertificateError) as failure:
        verifier.verify(kind="bank", response=leaf_only, expected_challenge=CHALLENGE)
    assert failure.value.code == "untrusted"


def test_a_signature_by_another_key_is_refused(verifier, pki) -> None:
    """Someone holding only the certificate (public) cannot answer the challenge."""
    _, mine, _ = decode_response(sign_with(pki.unit_p12(L2_UNIT, "bank"), CHALLENGE))
    _, _, other_signature = decode_response(sign_with(pki.unit_p12(L1_UNIT, "bank"), CHALLENGE))
    forged = encode_response(challenge=CHALLENGE, certificates=mine, signature=other_signature)
    with pytest.raises(CertificateError) as failure:
        verifier.verify(kind="bank", response=forged, expected_challenge=CHALLENGE)
    assert failure.value.code == "signature"


def test_an_answer_to_another_challenge_is_refused(verifier, pki) -> None:
    other = challenge_text(purpose="bank-verify", nonce="n-2", issuer="http://127.0.0.1:8001")
    with pytest.raises(CertificateError) as failure:
        check(verifier, pki.unit_p12(L2_UNIT, "bank"), challenge=other)
    assert failure.value.code == "challenge"


def test_a_signature_over_different_bytes_is_refused(verifier, pki) -> None:
    # The helper's output, with the challenge it claims swapped after signing.
    challenge, certs, signature = decode_response(sign_with(pki.unit_p12(L2_UNIT, "bank"), "something else"))
    tampered = encode_response(challenge=CHALLENGE, certificates=certs, signature=signature)
    with pytest.raises(CertificateError) as failure:
        verifier.verify(kind="bank", response=tampered, expected_challenge=CHALLENGE)
    assert failure.value.code == "signature"


@pytest.mark.parametrize(
    "response", ["", "hello", "GDCA1.", "GDCA1.!!!", "GDCA1." + base64.urlsafe_b64encode(json.dumps({"challenge": 1}).encode()).decode()]
)
def test_malformed_responses_are_refused(verifier, response: str) -> None:
    with pytest.raises(CertificateError) as failure:
        verifier.verify(kind="bank", response=response, expected_challenge=CHALLENGE)
    assert failure.value.code == "malformed"


def test_without_a_crl_for_the_issuer_the_check_fails_closed(pki) -> None:
    verifier = CertificateVerifier(bank_anchors=[str(p) for p in pki.bank_anchors], ca_anchors=[], crls=[], clock=FrozenClock())
    with pytest.raises(CertificateError) as failure:
        check(verifier, pki.unit_p12(L2_UNIT, "bank"))
    assert failure.value.code == "no_crl"


def test_a_stale_crl_fails_closed(pki) -> None:
    clock = FrozenClock()
    verifier = CertificateVerifier(
        bank_anchors=[str(p) for p in pki.bank_anchors], ca_anchors=[], crls=[str(p) for p in pki.crls], clock=clock
    )
    clock.advance(31 * 86400)  # the CRLs' nextUpdate is 30 days out
    with pytest.raises(CertificateError) as failure:
        check(verifier, pki.unit_p12(L2_UNIT, "bank"))
    assert failure.value.code == "stale_crl"


def test_without_anchors_nothing_verifies(pki) -> None:
    verifier = CertificateVerifier(bank_anchors=[], ca_anchors=[], crls=[], clock=FrozenClock())
    assert not verifier.configured("bank")
    with pytest.raises(CertificateError) as failure:
        check(verifier, pki.unit_p12(L2_UNIT, "bank"))
    assert failure.value.code == "no_anchors"


# -- the CA助手 ------------------------------------------------------------------------------
def test_the_helper_refuses_a_wrong_pin(pki) -> None:
    with pytest.raises(WrongPin):
        sign_challenge(pki.unit_p12(L2_UNIT, "bank").read_bytes(), "000000", CHALLENGE)


def test_the_helper_command(pki, capsys) -> None:
    assert ca_helper_main(["sign", "--p12", str(pki.unit_p12(L2_UNIT, "bank")), "--pin", "123456", "--challenge", CHALLENGE]) == 0
    assert capsys.readouterr().out.startswith("GDCA1.")
    assert ca_helper_main(["sign", "--p12", str(pki.unit_p12(L2_UNIT, "bank")), "--pin", "654321", "--challenge", CHALLENGE]) == 2
    assert "PIN码错误" in capsys.readouterr().err


# -- through the pages ------------------------------------------------------------------------
def verify_page(browser, kind: str = "bank"):
    page = browser.get(f"/account/verification/{kind}")
    assert page.status_code == 200, page.text[:300]
    return page


def submit(browser, page, response: str, kind: str = "bank"):
    return browser.post(
        f"/account/verification/{kind}",
        data={"csrf_token": csrf(page.text), "nonce": form_value(page.text, "nonce"), "response": response},
        follow_redirects=False,
    )


def test_bank_certificate_raises_an_l1_unit_to_l2_and_is_audited(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    assert "网银证书核验" in page.text and "python -m devtools.ca_helper sign" in page.text
    _, challenge = challenge_of(page.text)
    done = submit(browser, page, sign_with(pki.unit_p12(L1_UNIT, "bank"), challenge))
    assert done.status_code == 303 and done.headers["location"] == "/account/verification"
    account = account_row(pki_idp, login_name="demo_l1")
    assert account.trust_level == "L2" and account.verification_method == "企业/单位网银证书核验"
    last = audit_rows(pki_idp, account.id)[-1]
    assert (last.from_level, last.to_level, last.method) == ("L1", "L2", "企业/单位网银证书核验")
    assert "示范银行企业网银CA" in last.evidence and L1_UNIT in last.evidence and last.actor == "本人（账号 demo_l1）"
    summary = browser.get("/account/verification").text
    assert '您的账号当前可信等级为：<strong class="level level-L2">四级（原L2）</strong>' in summary
    assert "网银证书核验成功" in summary or "企业/单位网银证书核验成功" in summary
    assert "三级（原L1） → 四级（原L2）" in summary


def test_ca_certificate_raises_to_l3(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l2")
    page = verify_page(browser, "ca")
    _, challenge = challenge_of(page.text)
    assert submit(browser, page, sign_with(pki.unit_p12(L2_UNIT, "ca"), challenge), "ca").status_code == 303
    assert account_row(pki_idp, login_name="demo_l2").trust_level == "L3"


def test_a_lower_verification_on_a_higher_account_keeps_the_level_and_is_recorded(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l3")
    page = verify_page(browser)
    _, challenge = challenge_of(page.text)
    assert submit(browser, page, sign_with(pki.unit_p12("91440103MA5DL3C31X", "bank"), challenge)).status_code == 303
    account = account_row(pki_idp, login_name="demo_l3")
    assert account.trust_level == "L3" and account.verification_method == "办事大厅现场核验"
    last = audit_rows(pki_idp, account.id)[-1]
    assert (last.from_level, last.to_level, last.method) == ("L3", "L3", "企业/单位网银证书核验")


@pytest.mark.parametrize(
    ("p12", "message"),
    [
        (lambda pki: pki.unit_p12(L2_UNIT, "bank"), "与本账号的单位/企业证件号码不一致"),  # another unit's certificate
        (lambda pki: pki.bad_p12("expired"), "证书已过期"),
        (lambda pki: pki.bad_p12("revoked"), "该证书已被吊销"),
        (lambda pki: pki.bad_p12("encryption-only"), "该证书不能用于数字签名"),
        (lambda pki: pki.bad_p12("forged"), "不是由受信任的网银证书颁发机构签发"),
        (lambda pki: pki.unit_p12(L1_UNIT, "ca"), "不是由受信任的网银证书颁发机构签发"),  # wrong kind
    ],
    ids=["another-unit", "expired", "revoked", "wrong-purpose", "forged", "ca-cert-for-bank"],
)
def test_bad_certificates_are_refused_on_the_page_and_change_nothing(pki_idp: Idp, pki, p12, message: str) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    _, challenge = challenge_of(page.text)
    refused = submit(browser, page, sign_with(p12(pki), challenge))
    assert refused.status_code == 400 and message in refused.text
    assert '<div class="alert alert-error" role="alert" id="cert-error">' in refused.text
    account = account_row(pki_idp, login_name="demo_l1")
    assert account.trust_level == "L1" and len(audit_rows(pki_idp, account.id)) == 1
    # The page offers a fresh challenge.
    assert challenge_of(refused.text)[1] != challenge


def test_a_challenge_answers_once(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    _, challenge = challenge_of(page.text)
    response = sign_with(pki.unit_p12(L1_UNIT, "bank"), challenge)
    assert submit(browser, page, response).status_code == 303
    replay = submit(browser, page, response)
    assert replay.status_code == 400 and "核验码已失效（超时或已使用）" in replay.text


def test_a_challenge_expires(pki_idp: Idp, pki) -> None:
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    _, challenge = challenge_of(page.text)
    pki_idp.clock.advance(pki_idp.settings.challenge_ttl + 1)
    assert "核验码已失效" in submit(browser, page, sign_with(pki.unit_p12(L1_UNIT, "bank"), challenge)).text


def test_a_challenge_belongs_to_its_browser_and_purpose(pki_idp: Idp, pki) -> None:
    shown = login(pki_idp, "demo_l1")
    page = verify_page(shown)
    nonce, challenge = challenge_of(page.text)
    response = sign_with(pki.unit_p12(L1_UNIT, "bank"), challenge)
    other = login(pki_idp, "demo_l1")
    other_page = verify_page(other)
    stolen = other.post("/account/verification/bank", data={"csrf_token": csrf(other_page.text), "nonce": nonce, "response": response})
    assert stolen.status_code == 400 and "核验码已失效" in stolen.text
    # A bank-verify challenge does not serve the CA verification either.
    ca_page = verify_page(shown, "ca")
    wrong_purpose = shown.post("/account/verification/ca", data={"csrf_token": csrf(ca_page.text), "nonce": nonce, "response": response})
    assert wrong_purpose.status_code == 400 and "核验码已失效" in wrong_purpose.text


def test_without_configured_anchors_the_page_says_so(make_idp, tmp_path) -> None:
    idp = make_idp(dev_certs_dir=str(tmp_path / "none"))
    page = login(idp, "demo_l1").get("/account/verification/bank")
    assert "本平台尚未配置受信任的网银证书颁发机构" in page.text


# -- 网银证书 / CA证书 login -------------------------------------------------------------------
def cert_login(idp: Idp, p12, kind: str = "bank", *, params: dict | None = None):
    browser = idp.new_browser()
    if params is not None:
        first = browser.get("/authorize", params=params, follow_redirects=False)
        page = browser.get(first.headers["location"] + f"&tab=legal&method={kind}")
    else:
        page = browser.get(f"/login?tab=legal&method={kind}")
    _, challenge = challenge_of(page.text)
    response = browser.post(
        "/login/certificate",
        data={
            "csrf_token": csrf(page.text),
            "interaction": form_value(page.text, "interaction"),
            "kind": kind,
            "nonce": form_value(page.text, "nonce"),
            "response": sign_with(p12, challenge),
        },
        follow_redirects=False,
    )
    return browser, response


def test_certificate_login_works_only_after_the_verification(pki_idp: Idp, pki) -> None:
    _, before = cert_login(pki_idp, pki.unit_p12(L1_UNIT, "bank"))
    assert before.status_code == 400 and "该单位尚未完成企业/单位网银证书核验" in before.text
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    _, challenge = challenge_of(page.text)
    submit(browser, page, sign_with(pki.unit_p12(L1_UNIT, "bank"), challenge))
    browser, after = cert_login(pki_idp, pki.unit_p12(L1_UNIT, "bank"))
    assert after.status_code == 303 and after.headers["location"] == "/account"
    assert "广州市天河区示范科技有限公司" in browser.get("/account").text


def test_certificate_login_at_a_client_carries_the_level_and_amr(pki_idp: Idp, pki) -> None:
    pkce = Pkce.new()
    browser, response = cert_login(
        pki_idp, pki.unit_p12(L2_UNIT, "bank"), params=authorize_params(pkce, acr_values="urn:gdzwfw:loa:L2")
    )  # demo_l2 is verified by bank cert
    redirect = browser.get(response.headers["location"], follow_redirects=False)
    assert redirect.status_code == 302
    claims = decode_id_token(pki_idp.redeem(query_of(redirect)["code"], pkce).json()["id_token"], pki_idp.client.get("/jwks.json").json())
    assert claims["acr"] == "urn:gdzwfw:loa:L2" and claims["amr"] == ["swk", "pin"] and claims["uscc"] == L2_UNIT


def test_certificate_login_refuses_bad_certificates(pki_idp: Idp, pki) -> None:
    for name, message in (("revoked", "已被吊销"), ("expired", "已过期"), ("forged", "不是由受信任的")):
        _, response = cert_login(pki_idp, pki.bad_p12(name))
        assert response.status_code == 400 and message in response.text, name


def test_certificate_login_for_an_unregistered_unit(pki_idp: Idp, pki) -> None:
    _, response = cert_login(pki_idp, pki.unit_p12("91440305MA5DLB002T", "bank"))
    assert response.status_code == 400 and "尚未注册法人账号" in response.text


def test_tokens_follow_the_level_after_an_upgrade(pki_idp: Idp, pki) -> None:
    from tests.gdzwfw_idp.flows import tokens_for

    before = tokens_for(pki_idp, "demo_l1")
    assert decode_id_token(before["id_token"], pki_idp.client.get("/jwks.json").json())["acr"] == "urn:gdzwfw:loa:L1"
    browser = login(pki_idp, "demo_l1")
    page = verify_page(browser)
    _, challenge = challenge_of(page.text)
    submit(browser, page, sign_with(pki.unit_p12(L1_UNIT, "bank"), challenge))
    after = tokens_for(pki_idp, "demo_l1")
    claims = decode_id_token(after["id_token"], pki_idp.client.get("/jwks.json").json())
    assert claims["acr"] == "urn:gdzwfw:loa:L2" and claims["trust_level"] == "L2"
