"""The 实名核验 page as in the seed's part 一 (二): the current level and method,
the three levels with their methods and 核验升级 / 修改信息 buttons, the audit
summary, 修改信息 for 三级, and the way back to a waiting client."""

from __future__ import annotations

import re

from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row, audit_rows, challenge_of, csrf, login, sign_with
from tests.oidc_helpers import Pkce, authorize_params, essential_acr_claims, query_of


def buttons(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a class="btn btn-small[^"]*" href="([^"]+)">(核验升级|修改信息)</a>', html)


def test_an_l1_unit_sees_its_level_method_and_the_upgrades(idp: Idp) -> None:
    page = login(idp, "demo_l1").get("/account/verification")
    assert "您的账号当前可信等级为：" in page.text and "三级（原L1）" in page.text
    assert "当前账号核验方式为：<strong>法人基础库</strong>" in page.text
    assert "您可通过任意一种 <strong>四级（原L2）</strong> 或 <strong>五级（原L3）</strong> 的核验方式进行升级。" in page.text
    for heading in ("三级（原L1）核验", "四级（原L2）核验", "五级（原L3）核验"):
        assert f"<h3>{heading}</h3>" in page.text
    for text in (
        "可进行对身份信息要求较低的业务办理",
        "可进行大部分需实名办理的业务（完成一种核验即可）",
        "可办理安全性要求更高的实名业务（完成一种核验即可）",
        "查看办事大厅地址 >",
        "查看办理条件",
        "通过网银证书或电子营业执照核验的账号，可信等级为四级（L2）。",
    ):
        assert text in page.text
    assert buttons(page.text) == [
        ("/account/verification/registry", "修改信息"),
        ("/account/verification/bank", "核验升级"),
        ("/account/verification/licence", "核验升级"),
        ("/account/verification/ca", "核验升级"),
    ]
    assert "演示数据（仅开发环境加载）" in page.text  # the audit summary


def test_a_passed_method_offers_修改信息(idp: Idp) -> None:
    page = login(idp, "demo_l2").get("/account/verification")
    assert "当前账号核验方式为：<strong>企业/单位网银证书核验</strong>" in page.text
    assert ("/account/verification/bank", "修改信息") in buttons(page.text)
    assert ("/account/verification/licence", "核验升级") in buttons(page.text)


def test_l3_has_no_upgrade_sentence(idp: Idp) -> None:
    page = login(idp, "demo_l3").get("/account/verification")
    assert "五级（原L3）" in page.text and "的核验方式进行升级" not in page.text


def test_修改信息_for_l1_rereads_the_registry_and_is_audited(idp: Idp) -> None:
    browser = login(idp, "demo_l1")
    page = browser.get("/account/verification/registry")
    assert "法人基础库" in page.text and "广州市天河区示范科技有限公司" in page.text and "存续" in page.text
    done = browser.post("/account/verification/registry", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert done.headers["location"] == "/account/verification"
    account = account_row(idp, login_name="demo_l1")
    last = audit_rows(idp, account.id)[-1]
    assert (last.from_level, last.to_level, last.method) == ("L1", "L1", "法人基础库") and "修改信息" in last.evidence
    assert "（不变）" in browser.get("/account/verification").text


def test_a_logged_in_l1_unit_upgrades_and_continues_without_logging_in_again(pki_idp: Idp, pki) -> None:
    """Single sign-on: the unit is already logged in at L1 when a client
    requires L2. The upgrade page, 网银证书核验, and the waiting request
    continues with the session it has (no second password)."""
    browser = login(pki_idp, "demo_l1")
    pki_idp.clock.advance(60)
    pkce = Pkce.new()
    unmet = browser.get(
        "/authorize", params=authorize_params(pkce, claims=essential_acr_claims("urn:gdzwfw:loa:L2")), follow_redirects=False
    )
    assert unmet.status_code == 403
    upgrade = re.search(r'href="http://127.0.0.1:8001(/account/verification\?interaction=[^"]+)"', unmet.text).group(1)
    interaction = upgrade.split("interaction=", 1)[1]
    # Resuming before the level is raised only shows the requirement again.
    early = browser.get(f"/authorize/resume?interaction={interaction}", follow_redirects=False)
    assert early.status_code == 403 and "code=" not in early.text
    verification = browser.get(upgrade)
    assert "您正在登录“演示应用（demo-rp）”" in verification.text and 'id="continue-login"' not in verification.text
    cert_page = browser.get("/account/verification/bank")
    _, challenge = challenge_of(cert_page.text)
    browser.post(
        "/account/verification/bank",
        data={
            "csrf_token": csrf(cert_page.text),
            "nonce": form_value(cert_page.text, "nonce"),
            "response": sign_with(pki.unit_p12("91440106MA5DL1A170", "bank"), challenge),
        },
    )
    resume = re.search(r'id="continue-login" href="([^"]+)"', browser.get("/account/verification").text).group(1)
    redirect = browser.get(resume, follow_redirects=False)
    assert redirect.status_code == 302 and "code" in query_of(redirect)
    from tests.oidc_helpers import decode_id_token

    claims = decode_id_token(pki_idp.redeem(query_of(redirect)["code"], pkce).json()["id_token"], pki_idp.client.get("/jwks.json").json())
    assert claims["acr"] == "urn:gdzwfw:loa:L2"
    # auth_time is still the password login's: nobody authenticated again.
    assert claims["auth_time"] == pki_idp.clock.timestamp() - 60


def test_an_upgrade_link_with_an_unknown_request_shows_no_continue_box(idp: Idp) -> None:
    browser = login(idp, "demo_l1")
    page = browser.get("/account/verification?interaction=not-a-real-one")
    assert page.status_code == 200 and "您正在登录" not in page.text


def test_a_natural_person_sees_its_own_verification(idp: Idp) -> None:
    browser = login(idp, "demo_person", tab="personal")
    page = browser.get("/account/verification")
    assert "身份信息核验（人口库）" in page.text and not buttons(page.text)
    assert browser.get("/account/verification/bank").status_code == 403


def test_after_an_upgrade_the_waiting_client_is_one_click_away(pki_idp: Idp, pki) -> None:
    """Essential acr L2 for an L1 unit: the upgrade page, 网银证书核验, then back
    to the client with L2."""
    browser = pki_idp.new_browser()
    pkce = Pkce.new()
    first = browser.get(
        "/authorize", params=authorize_params(pkce, claims=essential_acr_claims("urn:gdzwfw:loa:L2")), follow_redirects=False
    )
    page = browser.get(first.headers["location"])
    submitted = browser.post(
        "/login",
        data={
            "csrf_token": csrf(page.text),
            "interaction": form_value(page.text, "interaction"),
            "tab": "legal",
            "login_name": "demo_l1",
            "password": "Gd@demo2026",
        },
        follow_redirects=False,
    )
    unmet = browser.get(submitted.headers["location"], follow_redirects=False)
    assert unmet.status_code == 403 and "/account/verification" in unmet.text
    verification = browser.get("/account/verification")
    assert "您正在登录“演示应用（demo-rp）”" in verification.text and 'id="continue-login"' not in verification.text
    cert_page = browser.get("/account/verification/bank")
    _, challenge = challenge_of(cert_page.text)
    browser.post(
        "/account/verification/bank",
        data={
            "csrf_token": csrf(cert_page.text),
            "nonce": form_value(cert_page.text, "nonce"),
            "response": sign_with(pki.unit_p12("91440106MA5DL1A170", "bank"), challenge),
        },
    )
    verification = browser.get("/account/verification")
    resume = re.search(r'id="continue-login" href="([^"]+)"', verification.text).group(1)
    redirect = browser.get(resume, follow_redirects=False)
    assert redirect.status_code == 302
    assert query_of(redirect)["iss"] == "http://127.0.0.1:8001" and "code" in query_of(redirect)
    from tests.oidc_helpers import decode_id_token

    claims = decode_id_token(pki_idp.redeem(query_of(redirect)["code"], pkce).json()["id_token"], pki_idp.client.get("/jwks.json").json())
    assert claims["acr"] == "urn:gdzwfw:loa:L2"
