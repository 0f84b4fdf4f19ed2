"""The pages' own script and style are addressed with a hash of their
content: a browser holding last release's idp.js fetches this release's
(the QR codes are drawn by it, so an old copy would show none)."""

from __future__ import annotations

import re
from pathlib import Path

from services.gdzwfw_idp.app import static_version
from tests.gdzwfw_idp.conftest import Idp


def test_the_version_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "idp.js").write_text("a")
    (tmp_path / "vendor" / "lib.js").write_text("b")
    first = static_version(tmp_path)
    (tmp_path / "vendor" / "lib.js").write_text("c")
    assert static_version(tmp_path) != first and re.fullmatch(r"[0-9a-f]{12}", first)


def test_the_login_page_asks_for_this_releases_script_and_it_is_served(idp: Idp) -> None:
    page = idp.client.get("/login")
    (script,) = re.findall(r'src="(/static/idp/idp\.js\?v=[0-9a-f]{12})"', page.text)
    assert script.endswith(static_version(Path("services/gdzwfw_idp/static")))
    served = idp.client.get(script)
    assert served.status_code == 200 and "function drawQr" in served.text
