"""The pages' security headers (shared.web.security_headers) and the templates
they rely on: no inline script, no inline event handler, no style attribute."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from shared.web.security_headers import content_security_policy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "shared" / "web" / "templates", *sorted((ROOT / "services").glob("*/templates"))]
TEMPLATES = sorted(path for directory in TEMPLATE_DIRS for path in directory.rglob("*.html"))


class _InlineCode(HTMLParser):
    """Collects what the Content-Security-Policy would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            # Jinja inside a tag ({% if only %}) parses as valueless attributes.
            if name.startswith("on") and name[2:].isalpha() and value is not None:
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f"<{tag} style=…>")
        # A JSON data block is never executed: the policy does not apply to it.
        self._inline_script = tag == "script" and "src" not in named and named.get("type") != "application/json"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline_script = False

    def handle_data(self, data: str) -> None:
        if self._inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}…")


def test_the_template_scan_finds_what_the_policy_refuses() -> None:
    parser = _InlineCode()
    parser.feed('<select onchange="x()"></select><p style="margin:0"></p><script>alert(1)</script><script src="/a.js"></script>')
    parser.feed('<script type="application/json">{"a": 1}</script><option {% if only %}selected{% endif %}>')
    assert parser.found == ["<select onchange=…>", "<p style=…>", "<script>alert(1)…"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_template_has_inline_script_handlers_or_styles(template: Path) -> None:
    parser = _InlineCode()
    parser.feed(template.read_text(encoding="utf-8"))
    assert parser.found == []


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) > 50 and {path.parent.parent.name for path in TEMPLATES} >= {"gdzwfw_idp", "hrss_isso", "refund_portal", "web"}


def test_the_policy_lists_each_extra_origin_once_and_only_the_origin() -> None:
    policy = content_security_policy(
        connect_sources=["http://127.0.0.1:18880/"],
        form_targets=["https://isso.example/isso", "https://isso.example/logout", "https://b.example:8443/x"],
    )
    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert directives["connect-src"] == "'self' http://127.0.0.1:18880"
    assert directives["form-action"] == "'self' https://b.example:8443 https://isso.example"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'" and directives["base-uri"] == "'self'"
    assert directives["default-src"] == "'self'"


def test_no_form_targets_leaves_form_action_out() -> None:
    assert "form-action" not in content_security_policy(form_targets=None)
    assert "form-action 'self'" in content_security_policy()
