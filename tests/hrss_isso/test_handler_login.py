"""个人登录 for a unit (the seed's part 二 (二)): after a personal login a
dialog lists the bound units; 「为选中的单位办理业务，点击此处登录」 enters
the platform for one. Tokens carry the unit as ``sub``, the handler as
``act``, ``idp=hrss``, and L2 only when the handler is 二级 or higher with
授权码实名 completed for that unit (DESIGN.md § Trust levels)."""

from __future__ import annotations

import re

from sqlalchemy import update

from services.hrss_isso import messages as msg
from services.hrss_isso.demo import DEMO_AUTHORIZATION_CODE
from services.hrss_isso.models import Person, UnitBinding
from tests.hrss_isso.conftest import Isso, csrf_of
from tests.hrss_isso.flows import handler_tokens, id_claims, person_id, unit_id
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, essential_acr_claims, query_of


def test_an_authorised_level_two_handler_acts_for_the_unit_at_l2(isso: Isso) -> None:
    tokens = handler_tokens(isso, "chenxiao", "44010400002")
    claims = id_claims(isso, tokens)
    assert claims["sub"] == unit_id(isso, "44010400002")
    assert claims["act"] == {"sub": person_id(isso, "chenxiao"), "name": "陈晓"}
    assert claims["idp"] == "hrss" and claims["acr"] == "urn:gdzwfw:loa:L2" and claims["trust_level"] == "L2"
    assert (
        claims["org_name"] == "广州市越秀区示范贸易有限公司"
        and claims["uscc"] == "91440104MA5DL2B24P"
        and claims["unit_code"] == "44010400002"
    )
    assert "440106199007150041" not in str(claims)
    userinfo = isso.client.get("/isso/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert userinfo["act"]["name"] == "陈晓" and userinfo["trust_level"] == "L2"
    introspection = isso.client.post("/isso/introspect", data={"token": tokens["access_token"]}, auth=DEMO_RP).json()
    assert introspection["active"] and introspection["acr"] == "urn:gdzwfw:loa:L2" and introspection["sub"] == claims["sub"]


def test_without_authorisation_code_the_handler_acts_at_l1(isso: Isso) -> None:
    claims = id_claims(isso, handler_tokens(isso, "chenxiao", "44010600001"))
    assert claims["acr"] == "urn:gdzwfw:loa:L1" and claims["act"]["name"] == "陈晓" and claims["unit_code"] == "44010600001"


def test_a_level_one_handler_acts_at_l1_even_when_authorised(isso: Isso) -> None:
    with isso.db() as s:
        s.execute(update(Person).where(Person.login_name == "chenxiao").values(realname_level=1))
    claims = id_claims(isso, handler_tokens(isso, "chenxiao", "44010400002"))
    assert claims["acr"] == "urn:gdzwfw:loa:L1"


def test_the_level_follows_the_records_within_one_browser_session(isso: Isso) -> None:
    browser = isso.new_browser()
    assert id_claims(isso, handler_tokens(isso, "chenxiao", "44010600001", browser=browser))["acr"].endswith("L1")
    with isso.db() as s:
        s.execute(
            update(UnitBinding)
            .where(UnitBinding.person_id == person_id(isso, "chenxiao"), UnitBinding.unit_id == unit_id(isso, "44010600001"))
            .values(authorized_at=isso.clock.now())
        )
    # Same session, a new authorization request: no login needed, now L2.
    pkce = Pkce.new()
    response = browser.get("/isso/authorize", params=authorize_params(pkce), follow_redirects=False)
    assert response.status_code == 302
    token = browser.post(
        "/isso/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(response)["code"],
            "redirect_uri": "http://127.0.0.1:8099/cb",
            "code_verifier": pkce.verifier,
        },
        auth=DEMO_RP,
    ).json()
    assert id_claims(isso, token)["acr"] == "urn:gdzwfw:loa:L2"


def test_an_essential_l2_request_shows_the_handler_where_to_upgrade(isso: Isso) -> None:
    browser = isso.new_browser()
    pkce = Pkce.new()
    first = browser.get(
        "/isso/authorize", params=authorize_params(pkce, claims=essential_acr_claims("urn:gdzwfw:loa:L2")), follow_redirects=False
    )
    interaction = query_of(first)["interaction"]
    isso.login("chenxiao", browser=browser, interaction=interaction)
    chosen = isso.choose_unit(unit_id(isso, "44010600001"), browser=browser, interaction=interaction)
    unmet = browser.get(chosen.headers["location"])
    assert unmet.status_code == 403
    # The handler's route (授权码实名), and the detour keeps the waiting request.
    realname = f"http://127.0.0.1:8002/isso/realname?interaction={interaction}"
    assert f'href="{realname}"' in unmet.text and 'id="advice-handler"' in unmet.text
    assert "网银证书" not in unmet.text
    login = isso.new_browser().get(realname, follow_redirects=True)
    assert "tab=personal" in str(login.url) and f"interaction={interaction}" in str(login.url)
    assert "您正在登录" in login.text


def test_an_essential_l2_request_tells_a_unit_account_to_use_the_provincial_legal_login(isso: Isso) -> None:
    browser = isso.new_browser()
    first = browser.get(
        "/isso/authorize", params=authorize_params(Pkce.new(), claims=essential_acr_claims("urn:gdzwfw:loa:L2")), follow_redirects=False
    )
    interaction = query_of(first)["interaction"]
    done = isso.login("tianhe_keji", tab="unit", browser=browser, interaction=interaction)
    unmet = browser.get(done.headers["location"])
    assert unmet.status_code == 403 and 'id="advice-unit"' in unmet.text
    # The seed's simplest route, not the handler's or the certificate checks.
    assert "法人账号" in unmet.text and "四级（原L2）或以上" in unmet.text
    assert "授权码实名”的经办人" in unmet.text and "申请单位授权码" not in unmet.text
    provincial = f"http://127.0.0.1:8002/isso/login?tab=unit&amp;method=gdzwfw&amp;interaction={interaction}"
    assert f'href="{provincial}"' in unmet.text and "使用省统一身份认证登录" in unmet.text
    page = browser.get(provincial.replace("&amp;", "&"))
    assert "您正在登录" in page.text and f"/isso/federation/gdzwfw/start?interaction={interaction}" in page.text


def test_the_dialog_refuses_a_unit_the_handler_is_not_bound_to(isso: Isso) -> None:
    browser = isso.new_browser()
    isso.login("chenxiao", browser=browser)
    refused = isso.choose_unit(unit_id(isso, "44010300003"), browser=browser)
    assert refused.status_code == 400 and msg.NOT_BOUND in refused.text
    # A pending binding is not a binding either (王芳 and 荔湾).
    wang = isso.new_browser()
    isso.login("wangfang", browser=wang)
    assert isso.choose_unit(unit_id(isso, "44010300003"), browser=wang).status_code == 400
    assert (
        browser.get("/isso/authorize", params=authorize_params(Pkce.new(), prompt="none"), follow_redirects=False)
        .headers["location"]
        .count("login_required")
        == 1
    )


def test_a_handler_without_bound_units_is_told_how_to_bind(isso: Isso) -> None:
    browser = isso.new_browser()
    isso.login("liming", browser=browser)
    chooser = browser.get("/isso/login/units")
    assert "尚未与任何单位完成绑定" in chooser.text and "子账号信息" in chooser.text and 'name="unit_id"' not in chooser.text


def test_a_handler_logged_in_before_the_request_must_log_in_again_for_it(isso: Isso) -> None:
    browser = isso.new_browser()
    isso.login("chenxiao", browser=browser)
    isso.clock.advance(5)
    pkce = Pkce.new()
    first = browser.get("/isso/authorize", params=authorize_params(pkce), follow_redirects=False)
    assert first.status_code == 303 and "/isso/login?interaction=" in first.headers["location"]


def test_logout_ends_the_handlers_login_and_tokens(isso: Isso) -> None:
    browser = isso.new_browser()
    tokens = handler_tokens(isso, "chenxiao", "44010400002", browser=browser)
    page = browser.get("/isso/logout")
    assert page.status_code == 200
    done = browser.post("/isso/logout", data={"csrf_token": csrf_of(page.text), "confirm": "yes"})
    assert done.status_code == 200
    assert browser.get("/isso/", follow_redirects=False).headers["location"].endswith("/isso/login")
    assert isso.client.post("/isso/introspect", data={"token": tokens["access_token"]}, auth=DEMO_RP).json() == {"active": False}


def _preselected(page: str) -> list[str]:
    return re.findall(r'<input type="radio" name="unit_id" value="([^"]+)" checked>', page)


def _chooser_for_a_client(isso: Isso, login_name: str) -> str:
    browser = isso.new_browser()
    first = browser.get("/isso/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    interaction = query_of(first)["interaction"]
    login = isso.login(login_name, browser=browser, interaction=interaction)
    return browser.get(login.headers["location"]).text


def test_the_dialog_preselects_only_a_unit_that_will_be_admitted(isso: Isso) -> None:
    # 陈晓: 越秀 at L2, 天河 at L1. Whatever the order, 越秀 is the one preselected; 天河 says why not.
    page = _chooser_for_a_client(isso, "chenxiao")
    assert _preselected(page) == [unit_id(isso, "44010400002")]
    assert page.count('class="below-floor"') == 1 and "低于四级（原L2），无法办理本次业务" in page
    # 赵磊: only 荔湾, at L1 (authorisation code not yet approved): nothing preselected.
    only_l1 = _chooser_for_a_client(isso, "zhaolei")
    assert 'name="unit_id"' in only_l1 and _preselected(only_l1) == []
    # The ISSO's own pages (no client waiting) take a unit at any level.
    browser = isso.new_browser()
    isso.login("zhaolei", browser=browser)
    own = browser.get("/isso/login/units").text
    assert _preselected(own) == [unit_id(isso, "44010300003")] and 'class="below-floor"' not in own


def test_the_realname_pages_keep_the_waiting_request_and_lead_back_to_it(isso: Isso) -> None:
    """去实名核验升级 → 申请单位授权码 / 授权码实名 / 申请记录: each page says
    「您正在登录…」; after 授权码实名 its 返回…继续登录 finishes the request at L2."""
    browser = isso.new_browser()
    pkce = Pkce.new()
    first = browser.get(
        "/isso/authorize", params=authorize_params(pkce, claims=essential_acr_claims("urn:gdzwfw:loa:L2")), follow_redirects=False
    )
    interaction = query_of(first)["interaction"]
    isso.login("sunli", browser=browser, interaction=interaction)  # approved for 荔湾, code not yet entered
    chosen = isso.choose_unit(unit_id(isso, "44010300003"), browser=browser, interaction=interaction)
    assert browser.get(chosen.headers["location"]).status_code == 403  # 账号可信等级不足
    apply = browser.get(f"/isso/realname?interaction={interaction}")
    assert str(apply.url).endswith("/isso/realname/apply")
    resume = f"http://127.0.0.1:8002/isso/authorize/resume?interaction={interaction}"
    back = f'<a class="btn" id="continue-login" href="{resume}">返回“演示应用（demo-rp）”继续登录</a>'
    for page in (apply, browser.get("/isso/realname/code"), browser.get("/isso/realname/applications")):
        assert page.status_code == 200 and "您正在登录：<strong>演示应用（demo-rp）</strong>" in page.text and back in page.text
    code_page = browser.get("/isso/realname/code")
    entered = browser.post(
        "/isso/realname/code", data={"csrf_token": csrf_of(code_page.text), "code": DEMO_AUTHORIZATION_CODE}, follow_redirects=False
    )
    done = browser.get(entered.headers["location"])
    assert "当前单位的可信等级已满足要求" in done.text and f'<a class="btn btn-primary" id="continue-login" href="{resume}">' in done.text
    finished = browser.get(resume, follow_redirects=False)
    assert finished.status_code == 302 and "code" in query_of(finished)
    token = browser.post(
        "/isso/token",
        data={"grant_type": "authorization_code", "code": query_of(finished)["code"], "redirect_uri": "http://127.0.0.1:8099/cb"}
        | {"code_verifier": pkce.verifier},
        auth=DEMO_RP,
    ).json()
    assert id_claims(isso, token)["acr"] == "urn:gdzwfw:loa:L2"
    # The request is answered: the pages no longer offer a way back to it.
    assert "您正在登录" not in browser.get("/isso/realname/code").text


def test_after_the_personal_login_the_detour_leads_back_through_the_choice_of_unit(isso: Isso) -> None:
    first = isso.client.get(
        "/isso/authorize", params=authorize_params(Pkce.new(), claims=essential_acr_claims("urn:gdzwfw:loa:L2")), follow_redirects=False
    )
    interaction = query_of(first)["interaction"]
    browser = isso.new_browser()
    login = browser.get(f"/isso/realname?interaction={interaction}")  # not logged in yet: 个人登录 first
    assert "您正在登录" in login.text
    isso.login("zhaolei", browser=browser, interaction=interaction)
    apply = browser.get("/isso/realname/apply")
    chooser = f"/isso/login/units?interaction={interaction}"
    assert "您正在登录：<strong>演示应用（demo-rp）</strong>" in apply.text and f'href="{chooser}"' in apply.text
    assert "您正在登录：" in browser.get(chooser).text
    # An unknown (or expired) request is not offered.
    other = isso.new_browser()
    isso.login("zhaolei", browser=other)
    assert "您正在登录" not in other.get("/isso/realname?interaction=nope").text
