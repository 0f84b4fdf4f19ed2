"""Steps at 广东省统一身份认证平台 that several browser journeys take: a stack
whose gdzwfw_idp trusts a test PKI, 法人注册 from step 1 to 注册完成, and
网银证书核验 with the 「CA助手」."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from devtools.ca_helper import sign_challenge
from devtools.stack import ROOT, SERVICES
from tests.browser.conftest import ChainUrls, running_chain

Shot = Callable[[Page, str], None]


def url_re(base: str, path: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(base + path)}(?:[?#].*)?$")


def pki_chain(
    work: Path, pki, *, suffix: str, services: tuple[str, ...] = SERVICES, ca_helper: str = ""
) -> AbstractContextManager[ChainUrls]:
    """The services in ``services`` running, gdzwfw_idp trusting ``pki`` and
    its pages looking for a 「CA助手」 at ``ca_helper`` (none: paste only)."""
    settings = pki.settings()
    extra = {
        "GDZWFW_CA_HELPER_URL": ca_helper,
        "GDZWFW_BANK_CA_FILES": json.dumps(settings["bank_ca_files"]),
        "GDZWFW_ENTERPRISE_CA_FILES": json.dumps(settings["enterprise_ca_files"]),
        "GDZWFW_CRL_FILES": json.dumps(settings["crl_files"]),
        "GDZWFW_LICENCE_AUTHORITY_PUBLIC_KEY_FILE": settings["licence_authority_public_key_file"],
    }
    return running_chain(work, suffix=suffix, extra_env={"gdzwfw_idp": extra}, services=services)


def latest_sms_code(page: Page, idp: str) -> str:
    """Read the code from gdzwfw_idp's development outbox, in another tab."""
    outbox = page.context.new_page()
    try:
        outbox.goto(f"{idp}/dev/sms")
        body = outbox.locator("td.sms-body").first.inner_text()
    finally:
        outbox.close()
    return re.search(r"\d{6}", body).group(0)


def register_legal_person(page: Page, idp: str, *, unit: dict[str, str], login_name: str, password: str, mobile: str, shot: Shot) -> None:
    """法人注册 from the open step-1 page to 注册完成 at 三级（原L1）: the
    WeChat face check through the development mini-program, an SMS code
    from the outbox, 实名核验 against 法人基础库."""
    expect(page).to_have_url(url_re(idp, "/register/legal"))
    expect(page.get_by_role("heading", name="法人注册")).to_be_visible()
    expect(page.locator("ol.steps li.current")).to_contain_text("输入基础信息")
    expect(page.get_by_role("img", name="微信小程序码")).to_be_visible()
    shot(page, "register_step1_empty")

    page.get_by_label("法人登录账号").fill(login_name)
    page.get_by_label("登录密码").fill(password)
    page.get_by_label("确认密码").fill(password)
    page.get_by_label("单位/企业名称").fill(unit["org_name"])
    page.locator("#uscc").fill(unit["uscc"])
    page.get_by_label("省", exact=True).select_option("广东省")
    page.get_by_label("市", exact=True).select_option(unit["city"])
    page.get_by_label("区（县）").select_option(unit["district"])
    page.get_by_label("证件详细地址").fill(unit["address"])
    page.get_by_label("法定代表人姓名").fill(unit["legal_rep_name"])
    page.locator("#legal_rep_id_number").fill(unit["legal_rep_id_number"])

    # The applicant scans the 小程序码: the development mini-program opens in a new tab.
    with page.context.expect_page() as popup_info:
        page.get_by_role("link", name="在新窗口打开模拟小程序").click()
    phone = popup_info.value
    phone.wait_for_load_state()
    expect(phone.get_by_role("heading", name="微信 · 人脸识别（模拟）")).to_be_visible()
    phone.get_by_label("申请人（人口库）").select_option(label="林**（4401**********0089）")
    phone.get_by_role("button", name="开始人脸识别").click()
    expect(phone.get_by_text("人脸识别通过")).to_be_visible()
    phone.close()
    expect(page.get_by_text("人脸识别已通过：林**（4401**********0089）")).to_be_visible()

    page.get_by_label("手机号码").fill(mobile)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#sms-status")).to_contain_text(f"验证码已发送至 {mobile[:3]}****{mobile[-4:]}")
    page.get_by_label("短信验证码").fill(latest_sms_code(page, idp))
    page.get_by_label("我已阅读并同意遵守").check()
    shot(page, "register_step1_filled")
    page.get_by_role("button", name="下一步").click()

    # Step 2: 实名核验 against 法人基础库.
    expect(page).to_have_url(url_re(idp, "/register/legal/verify"))
    expect(page.locator("ol.steps li.current")).to_contain_text("实名核验")
    masked = unit["legal_rep_id_number"]
    expect(page.locator("main")).to_contain_text(f"{masked[:4]}**********{masked[-4:]}")
    shot(page, "register_step2_verify")
    page.get_by_role("button", name="提交核验并完成注册").click()

    # Step 3: 注册完成 at 三级（原L1）.
    expect(page).to_have_url(url_re(idp, "/register/done"))
    expect(page.locator("ol.steps li.current")).to_contain_text("注册完成")
    expect(page.locator("main")).to_contain_text("三级（原L1）")
    shot(page, "register_step3_done")


@contextmanager
def running_ca_helper(pki, *, allow_origin: str, port: int) -> Iterator[str]:
    """``python -m devtools.ca_helper serve`` on loopback, as an employer runs it."""
    helper = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.ca_helper",
            "serve",
            "--certs",
            str(pki.root),
            "--port",
            str(port),
            "--allow-origin",
            allow_origin,
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/v1/status", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if helper.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the CA助手 did not start")
            time.sleep(0.2)
        yield url
    finally:
        helper.terminate()
        helper.wait(timeout=10)


def verify_by_bank_certificate(page: Page, idp: str, *, pki, uscc: str, shot: Shot, via_helper: bool = False) -> None:
    """From the 实名核验 page at 三级（原L1）: 企业/单位网银证书核验 → 四级（原L2），
    signed by the running 「CA助手」 with the PIN typed on the page, or on the
    command line and pasted."""
    expect(page).to_have_url(url_re(idp, "/account/verification"))
    expect(page.locator("main")).to_contain_text("您的账号当前可信等级为：三级（原L1）")
    expect(page.locator("main")).to_contain_text("当前账号核验方式为：法人基础库")
    shot(page, "verification_l1")
    page.locator("a[href='/account/verification/bank']").click()
    expect(page.get_by_role("heading", name="企业/单位网银证书核验")).to_be_visible()
    if via_helper:
        expect(page.locator("#helper-found")).to_be_visible()
        page.get_by_label("选择证书").select_option(f"{uscc}/bank")
        page.get_by_label("证书PIN码").fill("000000")
        page.get_by_role("button", name="数字证书核验").click()
        expect(page.locator("#helper-error")).to_have_text("PIN码错误，还可尝试4次")
        shot(page, "bank_certificate_wrong_pin")
        page.get_by_label("证书PIN码").fill(pki.pin)
        shot(page, "bank_certificate_helper")
        page.get_by_role("button", name="数字证书核验").click()
    else:
        # No CA助手 running: the page says so and the command line remains.
        expect(page.locator("#helper-missing")).to_be_visible()
        challenge = page.locator("#challenge").inner_text().strip()
        shot(page, "bank_certificate_challenge")
        response = sign_challenge(pki.unit_p12(uscc, "bank").read_bytes(), pki.pin, challenge)
        page.get_by_label("签名结果").fill(response)
        page.get_by_role("button", name="数字证书核验").click()

    expect(page).to_have_url(url_re(idp, "/account/verification"))
    expect(page.get_by_role("status")).to_contain_text("企业/单位网银证书核验成功")
    expect(page.locator("main")).to_contain_text("您的账号当前可信等级为：四级（原L2）")
    expect(page.locator("#audit")).to_contain_text("三级（原L1） → 四级（原L2）")
    shot(page, "verification_l2")


def handler_login(page: Page, idp: str, login_name: str, password: str) -> None:
    """法人登录 → 经办人登录 as a handler, up to 选择办理业务的法人."""
    page.goto(f"{idp}/login?tab=legal&method=password&handler=1")
    page.get_by_label("个人登录账号").fill(login_name)
    page.get_by_label("登录密码").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="选择办理业务的法人")).to_be_visible()
