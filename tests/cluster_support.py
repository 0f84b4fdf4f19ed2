"""Replicas of a service behind a round-robin proxy on loopback, for the
cluster tests (issue 16): what an operator runs, in miniature.

:class:`RoundRobinProxy` is the load balancer: every request goes to the
next replica in turn (never sticky), and a replica that refuses the
connection is skipped, as nginx's ``proxy_next_upstream error`` does — the
request never reached it, so even a POST may go to the next one. It keeps a
record of what it forwarded, so a test can say which replica answered.

:class:`Replica` is one ``manage serve`` process started the way the
Dockerfile starts a container: ``manage migrate``, then ``serve``.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from devtools.stack import ROOT, free_port, manage_command, spawn, stop_process, wait_ready

__all__ = ["Forwarded", "RoundRobinProxy", "Replica", "manage"]

# Headers about one hop, never forwarded (RFC 9110 §7.6.1), and the length,
# which the server on each side sets from the body it sends.
_HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"content-length",
}


@dataclass(frozen=True)
class Forwarded:
    backend: str  # the replica's base URL, "" when none answered
    method: str
    path: str
    status: int
    body: bytes


@dataclass
class RoundRobinProxy:
    backends: list[str]
    port: int = field(default_factory=free_port)
    forwarded: list[Forwarded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._next = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def since(self, mark: int) -> list[Forwarded]:
        """What was forwarded after ``mark`` (``len(proxy.forwarded)`` then)."""
        return self.forwarded[mark:]

    async def __call__(self, scope, receive, send) -> None:  # the ASGI app
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP_BY_HOP]
        target = scope["raw_path"].decode() + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        response, backend = None, ""
        for _ in self.backends:
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    response = await client.request(scope["method"], backend + target, headers=headers, content=body)
                break
            except httpx.ConnectError:
                continue  # that replica is down: the next one
        if response is None:
            self.forwarded.append(Forwarded("", scope["method"], scope["path"], 502, body))
            await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"no replica answered"})
            return
        self.forwarded.append(Forwarded(backend, scope["method"], scope["path"], response.status_code, body))
        out = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP and k.lower() != b"content-encoding"]
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": response.content})

    def start(self) -> None:
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@dataclass
class Replica:
    """One ``manage serve`` process of ``service`` on its own port."""

    service: str
    label: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.label}.log"

    def start(self, *, migrate: bool = False, worker: bool = False) -> None:
        """Start and return at once (:meth:`wait_ready` waits). ``migrate``:
        bring the database to head first, as every container does;
        ``worker``: ``manage worker`` (the outbox and the purge) instead of
        serve, with its metrics on the port."""
        python = shlex.join(manage_command(self.service))
        run = f"exec {python} worker --metrics-port {self.port}" if worker else f"exec {python} serve --host 127.0.0.1 --port {self.port}"
        command = f"set -e; {python} migrate; {run}" if migrate else run
        with self.log.open("ab") as out:
            self.process = spawn(["sh", "-c", command], {**os.environ, **self.env}, out=out)

    def wait_ready(self, timeout: float = 180.0) -> None:
        # Generous: five replicas importing and migrating at once on a shared, loaded machine.
        assert self.process is not None, f"{self.label} was not started"
        try:
            wait_ready(self.process, f"{self.url}/readyz", timeout=timeout, label=self.label)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}:\n{self.log.read_text()[-3000:]}") from None

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM (a stop) or SIGKILL (a crash: no shutdown, nothing flushed)."""
        if self.process is not None:
            stop_process(self.process, sig, grace=15)


def manage(service: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """An operator command (``rotate-keys``) run beside the replicas."""
    return subprocess.run(
        manage_command(service, *args),
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
