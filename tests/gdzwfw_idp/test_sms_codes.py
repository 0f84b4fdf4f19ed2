"""SMS codes as the registration and recovery forms use them: wrong, expired,
reused and flooded (per number and per client address), and recovery forms
that do not tell who owns a number."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from services.gdzwfw_idp.models import sms_tables
from services.gdzwfw_idp.sms.sending import send_code
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import csrf, latest_sms_code

MOBILE = "13912345678"


def send(browser, page, mobile: str = MOBILE, purpose: str = "register-person", **extra: str) -> dict:
    return browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": mobile, "purpose": purpose, **extra}).json()


def person_form(code: str, **overrides: str) -> dict[str, str]:
    form = {
        "login_name": "lin_xh01",
        "password": "Abc@12345",
        "password_confirm": "Abc@12345",
        "person_name": "林小红",
        "id_number": "440106199205120089",
        "mobile": MOBILE,
        "sms_code": code,
        "agree": "yes",
    }
    form.update(overrides)
    return form


def register(browser, page, code: str, **overrides: str):
    return browser.post(
        "/register/personal", data={"csrf_token": csrf(page.text), **person_form(code, **overrides)}, follow_redirects=False
    )


def test_a_code_is_sent_to_the_outbox_and_works_once(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    sent = send(browser, page)
    assert sent["sent"] and "139****5678" in sent["message"] and "/dev/sms" in sent["message"]
    code = latest_sms_code(idp, MOBILE)
    assert register(browser, page, code).status_code == 303
    # The same code cannot register a second account.
    again = register(browser, page, code, login_name="lin_xh02", id_number="440105199506300095", person_name="黄伟")
    assert again.status_code == 400 and "请先获取短信验证码" in again.text


def test_a_wrong_code_is_refused_and_counts(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    send(browser, page)
    code = latest_sms_code(idp, MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        response = register(browser, page, wrong)
        assert "短信验证码不正确" in response.text
    # Five wrong guesses spend the code, even the right one is refused now.
    response = register(browser, page, code)
    assert response.status_code == 400 and "短信验证码错误次数过多，请重新获取" in response.text


def test_an_expired_code_is_refused(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    send(browser, page)
    code = latest_sms_code(idp, MOBILE)
    idp.clock.advance(idp.settings.sms_code_ttl + 1)
    response = register(browser, page, code)
    assert response.status_code == 400 and "短信验证码已过期，请重新获取" in response.text


def test_a_newer_code_replaces_the_older(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    send(browser, page)
    old = latest_sms_code(idp, MOBILE)
    idp.clock.advance(idp.settings.sms_resend_seconds + 1)
    send(browser, page)
    new = latest_sms_code(idp, MOBILE)
    assert old != new
    assert "请先获取短信验证码" in register(browser, page, old).text or "短信验证码不正确" in register(browser, page, old).text
    assert register(browser, page, new).status_code == 303


def test_resending_within_a_minute_is_refused(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    assert send(browser, page)["sent"]
    again = send(browser, page)
    assert not again["sent"] and again["error"] == "验证码已发送，请60秒后再重新获取"


def test_one_number_gets_at_most_ten_codes_a_day(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    for _ in range(10):
        assert send(browser, page)["sent"]
        idp.clock.advance(61)
    flooded = send(browser, page)
    assert not flooded["sent"] and flooded["error"] == "该手机号今日获取验证码次数已达上限，请明天再试"


def test_one_address_gets_at_most_thirty_codes_an_hour(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    for n in range(30):
        assert send(browser, page, mobile=f"1390000{n:04d}")["sent"]
    flooded = send(browser, page, mobile="13988889999")
    assert not flooded["sent"] and flooded["error"] == "获取验证码过于频繁，请稍后再试"


def test_a_bad_number_or_purpose_is_refused(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    assert send(browser, page, mobile="12345")["error"] == "请输入正确的11位手机号码"
    assert browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": MOBILE, "purpose": "anything"}).status_code == 400
    assert browser.post("/sms/send", data={"mobile": MOBILE, "purpose": "register-person"}).status_code == 400  # no CSRF token


def test_a_code_for_one_purpose_does_not_serve_another(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    send(browser, page, purpose="register-legal")
    code = latest_sms_code(idp, MOBILE)
    assert "请先获取短信验证码" in register(browser, page, code).text


def test_recovery_sends_only_to_the_bound_number_and_says_the_same_either_way(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/recover/password")
    right = send(browser, page, mobile="13800138000", purpose="reset-password", login_name="demo_l2")
    wrong = send(browser, page, mobile="13911112222", purpose="reset-password", login_name="demo_l2")
    assert right["sent"] and wrong["sent"]
    assert right["message"] == wrong["message"]
    assert latest_sms_code(idp, "13800138000")
    with idp.app.state.db.transaction() as db:
        assert db.execute(select(sms_tables.outbox.c.id).where(sms_tables.outbox.c.mobile == "13911112222")).first() is None


def test_recovery_answers_a_real_and_a_made_up_pair_alike_twice(idp: Idp) -> None:
    """The resend cooldown holds for what was typed, owned or not: a second
    request answers 「验证码已发送，请60秒后再重新获取」 for both (else the
    answer tells which login owns which number)."""
    cases = {
        "reset-password": ({"mobile": "13800138000", "login_name": "demo_l2"}, {"mobile": "13911112222", "login_name": "demo_l2"}),
        "find-account": ({"mobile": "13800138000"}, {"mobile": "13911112222"}),
    }
    for purpose, (real, made_up) in cases.items():
        browser = idp.new_browser()
        page = browser.get("/recover/password")
        answers = [[send(browser, page, purpose=purpose, **pair) for pair in (real, made_up)] for _ in range(2)]
        first, second = answers
        assert first[0] == first[1] and first[0]["sent"], purpose
        assert second[0] == second[1] == {"sent": False, "error": "验证码已发送，请60秒后再重新获取", "retry_after": 60}, purpose
        idp.clock.advance(idp.settings.sms_resend_seconds + 1)


def test_twenty_concurrent_wrong_guesses_count_at_most_five(idp: Idp) -> None:
    """A guess takes its attempt in one conditional UPDATE before the code is
    compared, so parallel guesses cannot all read "4 attempts" and all be tried."""
    sms, db = idp.app.state.idp.sms, idp.app.state.db
    with db.transaction() as s:
        assert sms.send(s, mobile=MOBILE, purpose="reset-password", address="198.51.100.7").sent
    code = latest_sms_code(idp, MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    start = threading.Barrier(20)

    def guess(_: int) -> str | None:
        start.wait()
        with db.transaction() as s:
            return sms.verify(s, mobile=MOBILE, purpose="reset-password", code=wrong)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(guess, range(20)))
    assert answers.count("短信验证码不正确") == 5
    assert answers.count("短信验证码错误次数过多，请重新获取") == 15
    with db.transaction() as s:
        assert s.execute(select(sms_tables.code.c.attempts)).scalar_one() == 5
        assert sms.verify(s, mobile=MOBILE, purpose="reset-password", code=code) == "短信验证码错误次数过多，请重新获取"


def _outbox_to(idp: Idp, mobile: str) -> int:
    with idp.app.state.db.transaction() as db:
        return len(db.execute(select(sms_tables.outbox.c.id).where(sms_tables.outbox.c.mobile == mobile)).all())


def test_a_real_pair_s_code_goes_out_only_after_the_answer(idp: Idp) -> None:
    """The timing said which pair was real (the send took 88 ms, a made-up pair
    20 ms): the answer is built without sending, and the real pair's code goes
    out afterwards (the route's background task), so both answer alike and as fast."""
    parts = idp.app.state.idp
    asked = {"purpose": "reset-password", "login_name": "demo_l2", "account_id": None, "address": "198.51.100.7"}
    real = send_code(parts, mobile="13800138000", **asked)
    made_up = send_code(parts, mobile="13911112222", **asked)
    assert real.answer == made_up.answer and real.answer["sent"]
    assert made_up.after is None and real.after is not None
    assert _outbox_to(idp, "13800138000") == 0  # nothing sent while answering
    real.after()
    assert _outbox_to(idp, "13800138000") == 1 and _outbox_to(idp, "13911112222") == 0
