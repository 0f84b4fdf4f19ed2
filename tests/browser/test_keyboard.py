"""Keyboard only: a unit goes from the refund portal through the ISSO and
gdzwfw_idp to a confirmed refund pressing Tab, Shift+Tab, Enter, Space,
Escape and typing — never a click. On the way: every control of the login
page and of the record page is reached, in document order, each with a
visible focus ring; a refused password is announced and tied to the fields;
the confirmation dialog keeps focus inside, closes on Escape and gives focus
back; the ISSO's 选择单位 dialog keeps focus inside too.

The stack is this module's own: the journey confirms demo_l2's record, which
other modules expect to find waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.hrss_isso.demo import DEMO_PASSWORD as ISSO_DEMO_PASSWORD
from tests.browser.conftest import ChainUrls, running_chain

pytestmark = pytest.mark.browser


# What the focused element is, where it stands in the document, and whether
# a sighted keyboard user can see that it has focus (an outline of at least
# 2px or a focus glow, on an element with a size).
FOCUS_INFO = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== "none";
  const all = Array.from(document.querySelectorAll("*"));
  const text = (el.getAttribute("aria-label") || el.innerText || el.value || el.name || "").trim().slice(0, 20);
  return {
    name: `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} ${text}`.trim(),
    index: all.indexOf(el), visible: ring && rect.width > 0 && rect.height > 0,
    style: `${style.outlineStyle} ${style.outlineWidth} ${style.boxShadow} ${rect.width}x${rect.height}`,
  };
}"""

# Every control a keyboard user should be able to reach: shown, enabled, not taken out of the tab order.
REACHABLE = """() => Array.from(document.querySelectorAll(
  "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]"
)).filter(el => !el.disabled && el.tabIndex >= 0 && el.checkVisibility({visibilityProperty: true})
  && !el.closest("dialog:not([open])"))
  .map(el => Array.from(document.querySelectorAll("*")).indexOf(el))"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainUrls]:
    with running_chain(tmp_path_factory.mktemp("browser-keyboard-stack"), suffix="kbd") as urls:
        yield urls


def focus_info(page: Page) -> dict | None:
    return page.evaluate(FOCUS_INFO)


def press_tab(page: Page, *, backwards: bool = False) -> dict | None:
    page.keyboard.press("Shift+Tab" if backwards else "Tab")
    info = focus_info(page)
    if info is not None:
        assert info["visible"], f"{info['name']} has focus but no visible focus indicator ({info['style']})"
    return info


def tab_to(page: Page, target: Locator, *, limit: int = 60, backwards: bool = False) -> list[str]:
    """Tab (or Shift+Tab) until ``target`` has focus; every stop on the way must show its focus."""
    stops: list[str] = []
    for _ in range(limit):
        info = press_tab(page, backwards=backwards)
        stops.append(info["name"] if info else "(body)")
        if target.evaluate("el => el === document.activeElement"):
            return stops
    raise AssertionError(f"{target} was not reached with the keyboard; stops: {stops}")


def enter_and_wait(page: Page) -> None:
    """Enter on a link or a form's field: the next page has loaded before the next key."""
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")


def walk_whole_page(page: Page) -> None:
    """From the top, Tab through the page until focus comes round again:
    every reachable control was a stop, and the stops came in document order."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    expected = set(page.evaluate(REACHABLE))
    seen: list[int] = []
    names: list[str] = []
    for _ in range(len(expected) + 10):
        info = press_tab(page)
        if info is None:
            continue
        if seen and info["index"] == seen[0]:
            break
        seen.append(info["index"])
        names.append(info["name"])
    assert seen == sorted(seen), f"focus order is not the reading order: {names}"
    missing = sorted(expected - set(seen))
    described = page.evaluate("(ix) => ix.map(i => document.querySelectorAll('*')[i].outerHTML.slice(0, 120))", missing)
    assert not missing, f"never reached with Tab: {described}; stops were {names}"


def test_a_unit_logs_in_and_confirms_its_refund_with_the_keyboard_only(page: Page, chain: ChainUrls, shot) -> None:
    page.goto(f"{chain.portal}/")
    stops = tab_to(page, page.locator("#login"))
    assert stops[0].startswith("a 跳到主要内容"), stops
    enter_and_wait(page)

    # ISSO: 单位登录 opens on 省统一身份认证.
    expect(page).to_have_url(re.compile(rf"^{re.escape(chain.isso)}/isso/login"))
    tab_to(page, page.locator("#gdzwfw-login"))
    enter_and_wait(page)

    # gdzwfw_idp: 法人登录 → 账号密码, every control of the form reachable.
    expect(page).to_have_url(re.compile(rf"^{re.escape(chain.idp)}/login"))
    tab_to(page, page.locator("nav.tabs").get_by_role("link", name="法人登录", exact=True))
    enter_and_wait(page)
    tab_to(page, page.get_by_role("tab", name="账号密码", exact=True))
    enter_and_wait(page)
    expect(page.get_by_label("法人登录账号")).to_be_visible()
    walk_whole_page(page)

    login_name = page.get_by_label("法人登录账号")
    tab_to(page, login_name)
    page.keyboard.type("demo_l2")
    page.keyboard.press("Tab")
    expect(page.get_by_label("登录密码")).to_be_focused()
    page.keyboard.type("not-the-password")
    enter_and_wait(page)

    # Refused: announced, tied to both fields, and focus waits in the password.
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("账号或密码错误")
    password = page.get_by_label("登录密码")
    expect(password).to_be_focused()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(re.compile("账号或密码错误"))
    expect(page.get_by_label("法人登录账号")).to_have_accessible_description(re.compile("账号或密码错误"))
    shot(page, "01_refused_password_focused")
    page.keyboard.type(DEMO_PASSWORD)
    enter_and_wait(page)

    # Back at the portal: every control of the record page reachable.
    expect(page.get_by_role("heading", name="稳岗返还信息确认")).to_be_visible()
    walk_whole_page(page)
    confirm = page.locator("section.refund[data-status='pending']").get_by_role("link", name="确认返还信息")
    tab_to(page, confirm)
    enter_and_wait(page)

    expect(page.get_by_role("heading", name="确认稳岗返还信息")).to_be_visible()
    tab_to(page, page.locator("#declaration"))
    page.keyboard.press("Space")
    expect(page.locator("#declaration")).to_be_checked()
    submit = page.locator("#submit-decision")
    tab_to(page, submit)
    page.keyboard.press("Enter")

    # The confirmation dialog: focus inside and kept there both ways, Escape closes and returns focus.
    dialog = page.get_by_role("dialog", name="请再次确认")
    expect(dialog).to_be_visible()
    shot(page, "02_confirmation_dialog")
    for backwards in (False, True):
        for _ in range(5):
            press_tab(page, backwards=backwards)
            assert dialog.evaluate("d => d.contains(document.activeElement)"), "Tab left the open dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(submit).to_be_focused()
    expect(page.locator("#declaration")).to_be_checked()

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    tab_to(page, dialog.get_by_role("button", name="确认提交"), limit=5)
    enter_and_wait(page)
    expect(page.locator("#flash")).to_contain_text("确认成功")
    expect(page.locator("section.refund").first.get_by_test_id("status")).to_have_text("已确认")
    shot(page, "03_confirmed")


def test_the_choose_unit_dialog_keeps_keyboard_focus_inside(page: Page, chain: ChainUrls) -> None:
    page.goto(f"{chain.isso}/isso/login?tab=personal&method=password")
    tab_to(page, page.locator("#login_name"))
    page.keyboard.type("chenxiao")
    page.keyboard.press("Tab")
    page.keyboard.type(ISSO_DEMO_PASSWORD)
    enter_and_wait(page)

    dialog = page.get_by_role("dialog", name="选择绑定的单位")
    expect(dialog).to_be_visible()
    # Focus starts on the chosen unit, not behind the dialog.
    expect(dialog.locator("input[type=radio]:checked")).to_be_focused()
    for backwards in (False, True):
        for _ in range(8):
            press_tab(page, backwards=backwards)
            assert dialog.evaluate("d => d.contains(document.activeElement)"), "Tab left the 选择单位 dialog"
    tab_to(page, dialog.get_by_role("button", name=re.compile("点击此处登录")), limit=8)
    enter_and_wait(page)
    expect(page).to_have_url(re.compile(rf"^{re.escape(chain.isso)}/isso/?$"))
