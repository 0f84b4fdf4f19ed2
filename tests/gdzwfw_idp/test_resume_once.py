"""A parked authorization request is answered once: its resume (or its
decline) takes it.

A browser that sends the resume twice at the same moment (a double click, a
retried request) gets one code; the other answer is 登录已超时, and no
second code exists for the same request. What takes the request without
answering it parks it again for the browser that holds it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select

from shared.oauth.provider.tables import ProviderTables
from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.oidc_helpers import Pkce, authorize_params, essential_acr_claims, query_of


def codes_issued(idp: Idp) -> int:
    tables: ProviderTables = idp.app.state.provider.config.tables
    with idp.app.state.db.transaction() as s:
        return s.execute(select(func.count()).select_from(tables.authorization_code)).scalar_one()


def logged_in_up_to_the_resume(idp: Idp) -> str:
    done = idp.logged_in("demo_l2", params=authorize_params(Pkce.new()))
    assert done.status_code == 303 and "/authorize/resume" in done.headers["location"]
    return done.headers["location"]


def at_once(send: Callable[[], httpx.Response], times: int = 4) -> list[httpx.Response]:
    start = threading.Barrier(times)
    answers: list[httpx.Response] = []

    def one() -> None:
        start.wait()
        answers.append(send())

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def expired(answer: httpx.Response) -> bool:
    return answer.status_code == 400 and "登录已超时" in answer.text


def test_a_resume_sent_twice_at_once_is_answered_with_one_code(idp: Idp) -> None:
    resume = logged_in_up_to_the_resume(idp)
    before = codes_issued(idp)
    answers = at_once(lambda: idp.client.get(resume, follow_redirects=False))
    coded = [a for a in answers if a.status_code == 302 and "code=" in a.headers["location"]]
    assert (len(coded), len([a for a in answers if expired(a)])) == (1, 3), [(a.status_code, a.text[:200]) for a in answers]
    assert codes_issued(idp) == before + 1


def test_a_decline_sent_twice_at_once_is_answered_once(idp: Idp) -> None:
    unmet = idp.login("demo_l1", params=authorize_params(Pkce.new(), claims=essential_acr_claims("urn:gdzwfw:loa:L2")))
    assert unmet.status_code == 403
    form = {"csrf_token": form_value(unmet.text, "csrf_token"), "interaction": form_value(unmet.text, "interaction")}
    answers = at_once(lambda: idp.client.post("/authorize/decline", data=form, follow_redirects=False))
    told = [a for a in answers if a.status_code == 302 and query_of(a).get("error") == "unmet_authentication_requirements"]
    assert (len(told), len([a for a in answers if expired(a)])) == (1, 3), [(a.status_code, a.text[:200]) for a in answers]


def test_a_resume_from_a_browser_without_the_login_leaves_the_request_to_the_one_with_it(idp: Idp) -> None:
    # The resume's address is in the browser's history; another browser
    # opening it is sent to log in, and the request stays parked.
    resume = logged_in_up_to_the_resume(idp)
    stranger = idp.new_browser().get(resume, follow_redirects=False)
    assert stranger.status_code == 303 and "/login?interaction=" in stranger.headers["location"]
    mine = idp.client.get(resume, follow_redirects=False)
    assert mine.status_code == 302 and "code=" in mine.headers["location"]


def test_a_resume_that_fails_can_be_tried_again(idp: Idp, monkeypatch: pytest.MonkeyPatch) -> None:
    resume = logged_in_up_to_the_resume(idp)
    hot = idp.app.state.provider.hot

    async def database_gone(*args, **kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(hot, "authorize", database_gone)
    with pytest.raises(ConnectionError):
        idp.client.get(resume, follow_redirects=False)
    monkeypatch.undo()
    again = idp.client.get(resume, follow_redirects=False)
    assert again.status_code == 302 and "code=" in again.headers["location"]


def test_a_resume_sent_again_later_is_told_the_login_has_expired(idp: Idp) -> None:
    resume = logged_in_up_to_the_resume(idp)
    assert idp.client.get(resume, follow_redirects=False).status_code == 302
    again = idp.client.get(resume, follow_redirects=False)
    assert again.status_code == 400 and "登录已超时，请返回原应用重新发起登录。" in again.text
