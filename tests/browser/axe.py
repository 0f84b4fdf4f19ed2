"""axe-core in the browser tests: run the WCAG 2.0/2.1 A and AA rules on the
page Playwright has open, at desktop and mobile widths.

The pages' Content-Security-Policy (``script-src 'self'``) refuses the inline
``<script>`` that ``page.add_script_tag`` inserts, so the vendored file is
evaluated through the DevTools protocol instead (``page.evaluate``), which the
page's CSP does not govern.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

from devtools.stack import ROOT
from tests.browser.conftest import DESKTOP, MOBILE

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
# Pinned in vendor/README.md: a changed file changes which rules run, so it must be deliberate.
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
REPORTS = ROOT / "test-artifacts" / "axe"

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(" ")),
    summaries: v.nodes.map(n => n.failureSummary || ""),
  }));
}"""


# What axe leaves to best practice but the issue asks of every data table: a
# caption naming it, and a scope on each header cell.
TABLE_CHECK = """() => Array.from(document.querySelectorAll("main table")).flatMap((t, i) => {
  const where = t.id ? `table#${t.id}` : `main table:nth-of-type(${i + 1})`;
  const found = [];
  if (!t.caption || !t.caption.textContent.trim()) found.push({target: where, summary: "table has no caption"});
  t.querySelectorAll("th:not([scope])").forEach(
    th => found.push({target: `${where} th ${th.textContent.trim()}`, summary: "th without scope"}));
  return found;
})"""


def axe_source() -> str:
    source = AXE_JS.read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    if digest != AXE_SHA256:
        raise RuntimeError(f"{AXE_JS} is not the pinned axe-core (sha256 {digest}); see vendor/README.md")
    return source


@dataclass
class Violation:
    where: str
    id: str
    impact: str
    help: str
    targets: list[str]
    summaries: list[str]

    def describe(self) -> str:
        nodes = "\n".join(f"      {t}\n        {s.replace(chr(10), ' / ')}" for t, s in zip(self.targets, self.summaries, strict=True))
        return f"  [{self.where}] {self.id} ({self.impact}): {self.help}\n{nodes}"


@dataclass
class AxeAudit:
    """Collects the violations of every page a test audits, so that one run
    reports all of them rather than stopping at the first page."""

    name: str
    shot: Callable[[Page, str], None] | None = None
    found: list[Violation] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)

    def __call__(self, page: Page, label: str) -> None:
        page.wait_for_load_state("load")
        for width, viewport in (("1280", DESKTOP), ("390", MOBILE)):
            page.set_viewport_size(viewport)
            try:
                self.found.extend(Violation(where=f"{label}@{width}", **v) for v in run_axe(page))
                if width == "1280":
                    self.found.extend(
                        Violation(
                            f"{label}@{width}",
                            "table-caption-scope",
                            "moderate",
                            "数据表格需有标题和表头范围",
                            [t["target"]],
                            [t["summary"]],
                        )
                        for t in page.evaluate(TABLE_CHECK)
                    )
            finally:
                page.set_viewport_size(DESKTOP)
        self.audited.append(label)
        if self.shot:
            self.shot(page, label)

    def report(self) -> str:
        return f"{len(self.found)} axe violation(s) on {self.name}:\n" + "\n".join(v.describe() for v in self.found)

    def save(self) -> None:
        REPORTS.mkdir(parents=True, exist_ok=True)
        rows = [v.__dict__ for v in self.found]
        (REPORTS / f"{self.name}.json").write_text(json.dumps({"audited": self.audited, "violations": rows}, ensure_ascii=False, indent=1))


def run_axe(page: Page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(RUN_AXE, WCAG_TAGS)
