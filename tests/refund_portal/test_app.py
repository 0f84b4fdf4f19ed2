"""How create_app puts the portal together: its own stylesheet beside its
templates, the shared one from shared/web/static."""

from __future__ import annotations

from tests.refund_portal.conftest import Env


def test_the_portals_stylesheet_is_served_from_its_own_folder(env: Env) -> None:
    own = env.client.get("/static/refund/refund.css")
    assert own.status_code == 200 and own.headers["content-type"].startswith("text/css") and ".amount-box" in own.text
    assert env.client.get("/static/gov.css").status_code == 200
    assert env.client.get("/static/refund.css").status_code == 404


def test_pages_link_the_portals_stylesheet(env: Env) -> None:
    assert 'href="/static/refund/refund.css"' in env.client.get("/agency/login").text
