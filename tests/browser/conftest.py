"""Browser tests: the three services as uvicorn processes, driven by Debian's
Chromium through Playwright's sync API.

The stack is started once per session on free loopback ports (SQLite files
under a temporary directory, or fresh PostgreSQL databases next to
``TEST_DATABASE_URL``). Each test gets a fresh browser context, so cookies
never leak from one test into another. Screenshots of every step go to
``test-artifacts/screenshots/`` at desktop (1280×800) and mobile (390px)
widths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from devtools.stack import ROOT, SERVICES, Stack, StackConfig, database_urls, drop_databases, free_port
from tests.redis_run import stack_redis

# Pages that poll (the QR and face-check pages every 1.5 s) can take longer
# than Playwright's 5 s default on a loaded 2-CPU CI machine.
expect.set_options(timeout=15_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium); it is missing")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@dataclass
class ChainUrls:
    idp: str
    isso: str
    portal: str
    # Each service's database, for the rare test that must set up a state no
    # page can hold still (an import job caught half-way).
    databases: dict[str, str]


@contextmanager
def running_chain(
    work: Path, *, suffix: str, extra_env: dict[str, dict[str, str]] | None = None, services: tuple[str, ...] = SERVICES
) -> Iterator[ChainUrls]:
    """``services`` migrated and running (the rest migrated only), their logs
    in ``work``; databases dropped afterwards on PostgreSQL."""
    urls = database_urls(base_url=TEST_DATABASE_URL, var_dir=work / "db", suffix=f"_{suffix}{os.getpid()}")
    config = StackConfig(
        database_urls=urls, ports={name: free_port() for name in SERVICES}, extra_env=extra_env or {}, work_dir=work, **stack_redis(suffix)
    )
    stack = Stack(config, log_dir=work)
    stack.migrate()
    try:
        # Generous: six engineers' test runs share two CPUs, and start-up (migrations, key generation) waits its turn.
        stack.start(services, timeout=90)
    except Exception:
        stack.stop()
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(work.glob("*.log")))
        raise RuntimeError(f"the stack did not start\n{logs}") from None
    try:
        yield ChainUrls(idp=config.url("gdzwfw_idp"), isso=config.url("hrss_isso"), portal=config.url("refund_portal"), databases=urls)
    finally:
        stack.stop()
        drop_databases(urls)


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainUrls]:
    """gdzwfw_idp, hrss_isso and refund_portal, migrated and running. Every
    list import runs in the background here (its page waits on the job, then
    shows the result), as a large file's does in production."""
    background = {"refund_portal": {"REFUND_IMPORT_BACKGROUND_BYTES": "0"}}
    with running_chain(tmp_path_factory.mktemp("browser-stack"), suffix="browser", extra_env=background) as urls:
        yield urls


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}; it is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def csp_violations() -> list[str]:
    """What Chromium refused under the pages' Content-Security-Policy (its console
    reports each refusal): a blocked script, fetch or form redirect leaves a page
    half working without failing any step by itself."""
    return []


@pytest.fixture
def page(chromium, chain: ChainUrls, csp_violations: list[str]) -> Iterator[object]:
    """A page in a fresh browser context (its own cookies)."""
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    context.on("console", lambda message: csp_violations.append(message.text) if "Content Security Policy" in message.text else None)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def shot(screenshots_dir: Path, request: pytest.FixtureRequest) -> Callable[[object, str], None]:
    """``shot(page, "03_gdzwfw_login")`` saves full-page screenshots of the
    current page at desktop width and at a 390px mobile width."""
    prefix = re.sub(r"^test_", "", request.node.name)

    def take(page, step: str) -> None:
        page.wait_for_load_state("load")
        page.screenshot(path=str(screenshots_dir / f"{prefix}__{step}.png"), full_page=True)
        page.set_viewport_size(MOBILE)
        try:
            page.screenshot(path=str(screenshots_dir / f"{prefix}__{step}__mobile.png"), full_page=True)
        finally:
            page.set_viewport_size(DESKTOP)

    return take
