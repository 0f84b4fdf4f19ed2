"""The loopback 「CA助手」 stand-in (devtools/ca_helper.py serve): lists the
certificates it holds, signs a page's challenge with the PIN typed on the
page, locks a certificate after five wrong PINs, and answers only the
province's pages (CORS)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from devtools.ca_helper import helper_app
from services.gdzwfw_idp.verification.certificate.verifier import decode_response

PAGE = "http://127.0.0.1:8001"
USCC = "91440106MA5DL1A170"


@pytest.fixture
def helper(pki) -> TestClient:
    return TestClient(helper_app(pki.root, allow_origins=[PAGE]))


def test_it_lists_each_units_bank_and_ca_certificates_without_revealing_files(helper: TestClient) -> None:
    listed = helper.get("/v1/status", headers={"Origin": PAGE})
    assert listed.headers["access-control-allow-origin"] == PAGE
    certificates = {c["id"]: c for c in listed.json()["certificates"]}
    assert certificates[f"{USCC}/bank"] == {"id": f"{USCC}/bank", "kind": "bank", "uscc": USCC, "org_name": "广州市天河区示范科技有限公司"}
    assert f"{USCC}/ca" in certificates and all("path" not in c for c in certificates.values())


def test_the_right_pin_signs_the_challenge_for_the_page(helper: TestClient) -> None:
    signed = helper.post(
        "/v1/sign", json={"id": f"{USCC}/bank", "pin": "123456", "challenge": "GD-TEST-CHALLENGE"}, headers={"Origin": PAGE}
    )
    assert signed.status_code == 200
    challenge, certificates, signature = decode_response(signed.json()["response"])
    assert challenge == "GD-TEST-CHALLENGE" and certificates and signature


def test_five_wrong_pins_lock_the_certificate_even_for_the_right_one(helper: TestClient) -> None:
    for left in (4, 3, 2, 1):
        wrong = helper.post("/v1/sign", json={"id": f"{USCC}/bank", "pin": "000000", "challenge": "c"})
        assert wrong.status_code == 400 and wrong.json()["error"] == f"PIN码错误，还可尝试{left}次"
    assert "已锁定" in helper.post("/v1/sign", json={"id": f"{USCC}/bank", "pin": "000000", "challenge": "c"}).json()["error"]
    locked = helper.post("/v1/sign", json={"id": f"{USCC}/bank", "pin": "123456", "challenge": "c"})
    assert locked.status_code == 423 and "已锁定" in locked.json()["error"]
    # Another certificate is not affected.
    assert helper.post("/v1/sign", json={"id": f"{USCC}/ca", "pin": "123456", "challenge": "c"}).status_code == 200


def test_another_site_in_the_same_browser_is_not_let_in(helper: TestClient) -> None:
    preflight = helper.options(
        "/v1/sign",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers
    listed = helper.get("/v1/status", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in listed.headers


def test_unknown_certificates_and_bad_requests_get_a_chinese_error(helper: TestClient) -> None:
    for body in ({"id": "nope/bank", "pin": "1", "challenge": "c"}, {"pin": "1"}):
        answer = helper.post("/v1/sign", json=body)
        assert answer.status_code == 400 and answer.json()["error"] == "请求格式不正确或证书不存在"
