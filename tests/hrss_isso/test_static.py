"""The ISSO's own stylesheet and script are served beside the shared ones."""

from __future__ import annotations

from tests.hrss_isso.conftest import Isso


def test_the_isso_static_files_are_its_own(isso: Isso) -> None:
    for path in ("/static/isso/isso.css", "/static/isso/isso.js", "/static/gov.css"):
        assert isso.client.get(path).status_code == 200, path
    assert isso.client.get("/static/isso.css").status_code == 404
    page = isso.client.get("/isso/login").text
    assert 'href="/static/isso/isso.css"' in page and 'src="/static/isso/isso.js"' in page
