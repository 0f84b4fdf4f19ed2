"""A parked authorization request is answered once: its resume takes it.

A browser that sends the resume twice at the same moment (a double click, a
retried request) gets one code; the other answer is 登录已超时, and no
second code exists for the same request."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from shared.oauth.provider.tables import ProviderTables
from tests.gdzwfw_idp.conftest import Idp
from tests.oidc_helpers import Pkce, authorize_params


def codes_issued(idp: Idp) -> int:
    tables: ProviderTables = idp.app.state.provider.config.tables
    with idp.app.state.db.transaction() as s:
        return s.execute(select(func.count()).select_from(tables.authorization_code)).scalar_one()


def logged_in_up_to_the_resume(idp: Idp) -> str:
    done = idp.logged_in("demo_l2", params=authorize_params(Pkce.new()))
    assert done.status_code == 303 and "/authorize/resume" in done.headers["location"]
    return done.headers["location"]


def test_a_resume_sent_twice_at_once_is_answered_with_one_code(idp: Idp) -> None:
    resume = logged_in_up_to_the_resume(idp)
    before = codes_issued(idp)
    start = threading.Barrier(4)
    answers = []

    def send() -> None:
        start.wait()
        answers.append(idp.client.get(resume, follow_redirects=False))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    coded = [a for a in answers if a.status_code == 302 and "code=" in a.headers["location"]]
    expired = [a for a in answers if a.status_code == 400 and "登录已超时" in a.text]
    assert (len(coded), len(expired)) == (1, 3), [(a.status_code, a.text[:200]) for a in answers]
    assert codes_issued(idp) == before + 1


def test_a_resume_sent_again_later_is_told_the_login_has_expired(idp: Idp) -> None:
    resume = logged_in_up_to_the_resume(idp)
    assert idp.client.get(resume, follow_redirects=False).status_code == 302
    again = idp.client.get(resume, follow_redirects=False)
    assert again.status_code == 400 and "登录已超时，请返回原应用重新发起登录。" in again.text
