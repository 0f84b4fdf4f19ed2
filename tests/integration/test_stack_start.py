"""A stack's service whose port another server took first: the stack refuses
to start rather than let that server answer for it (in a test, another
stack's ISSO answered a chain's portal)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.stack import Stack, StackConfig, database_urls, drop_databases, free_port
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.integration


class _AlwaysReady(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[int]:
    """Another server on a port, answering every GET (its /readyz too) with 200."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _AlwaysReady)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_service_whose_port_another_server_holds_does_not_start(impostor: int, tmp_path: Path) -> None:
    config = StackConfig(
        database_urls=database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp_path, suffix=f"_taken{os.getpid()}", names=("refund_portal",)),
        ports={"refund_portal": impostor},
        work_dir=tmp_path,
    )
    stack = Stack(config, log_dir=tmp_path)
    try:
        stack.migrate(("refund_portal",))
        with pytest.raises(RuntimeError, match="refund_portal exited") as refused:
            stack.start(("refund_portal",), timeout=90)
        assert "address already in use" in str(refused.value).lower()
    finally:
        stack.stop()
        drop_databases(config.database_urls)
