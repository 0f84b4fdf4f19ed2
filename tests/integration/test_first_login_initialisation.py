"""登录初始化 over real HTTP (issue 5): the demo provincial legal person
``demo_unlinked`` (广州市天河区示范新创有限公司, L2) comes from the refund
portal through gdzwfw_idp to hrss_isso, completes 单位所属实名人员信息 and
单位信息, and the next 省统一身份认证 login goes straight to the portal.

Note: this links ``demo_unlinked`` in the session-wide stack, so it must run
after test_chain's "not linked" test (file order does that)."""

from __future__ import annotations

import httpx

from devtools.stack import StackConfig
from tests.chain_helpers import form_value, portal_login, sms_outbox

MOBILE = "13600136009"
PASSWORD = "Gzhr@2026x"


def test_an_unlinked_legal_person_initialises_and_the_next_login_goes_straight_in(stack: StackConfig) -> None:
    isso = f"{stack.url('hrss_isso')}/isso"
    with httpx.Client(follow_redirects=True) as browser:
        step1 = portal_login(browser, stack.url("refund_portal"), "demo_unlinked")
        assert step1.url.path == "/isso/init", step1.text[:300]
        assert "登录初始化" in step1.text and "广州市天河区示范新创有限公司" in step1.text and "操作指引" in step1.text
        low = browser.post(
            f"{isso}/init",
            data={"csrf_token": form_value(step1.text, "csrf_token"), "login_name": "liming", "id_number": "440106198503120023"},
        )
        assert low.status_code == 400 and "当前账号实名等级不足，请至少提升至二级实名后重试" in low.text
        step2 = browser.post(
            f"{isso}/init",
            data={"csrf_token": form_value(low.text, "csrf_token"), "login_name": "chenxiao", "id_number": "440106199007150041"},
        )
        assert step2.url.path == "/isso/init/info" and "91440106MA5DLUN43N" in step2.text
        csrf = form_value(step2.text, "csrf_token")
        sent = browser.post(
            f"{isso}/init/info",
            data={"csrf_token": csrf, "action": "send_sms", "legal_rep_mobile": MOBILE},
            headers={"Accept": "application/json"},
        )
        assert sent.status_code == 200, sent.text
        form = {
            "csrf_token": csrf,
            "cert_number": "91440101MA9XY7008U",  # tampered: ignored
            "org_name": "别的公司有限公司",  # tampered: ignored
            "region_code": "440100",
            "address": "广州市天河区天河路100号",
            "legal_rep_name": "周新",
            "legal_rep_id_type": "居民身份证（户口簿）",
            "legal_rep_id_number": "440106199309090099",
            "legal_rep_mobile": MOBILE,
            "login_name": "tianhe_xinchuang",
            "password": PASSWORD,
            "password2": PASSWORD,
            "sms_code": sms_outbox(stack.url("hrss_isso"), MOBILE),
            "action": "submit",
        }
        done = browser.post(f"{isso}/init/info", data=form)
        assert done.url.path == "/isso/init/done", done.text[:500]
        assert "完善信息后，请关闭页面，清理浏览器缓存" in done.text and "广州市天河区示范新创有限公司" in done.text
    with httpx.Client(follow_redirects=True) as again:
        page = portal_login(again, stack.url("refund_portal"), "demo_unlinked")
        assert page.status_code == 200 and str(page.url) == f"{stack.url('refund_portal')}/", page.text[:300]
        assert "广州市天河区示范新创有限公司" in page.text and "91440106MA5DLUN43N" in page.text
