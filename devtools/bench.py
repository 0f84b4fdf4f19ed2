"""``make bench``: throughput of gdzwfw_idp in its production configuration.

    python -m devtools.bench [--seconds 8] [--concurrency 48] [--workers N]
                             [--database-url URL | --sqlite] [--client raw|httpx]
                             [--only ceiling,cc,introspect,flow,introspect-user]
                             [--profile [--profile-dir DIR] [--py-spy PATH]] [--keep]

A benchmark, not a test: it prints figures and never fails on them.

What it starts
--------------
gdzwfw_idp as one ``python -m services.gdzwfw_idp.manage serve --workers N``
process group on loopback, started by ``devtools/stack.py`` (as ``make run``
does) and configured only through ``GDZWFW_*`` variables as in production: ``ENVIRONMENT=production`` with a freshly generated 48-byte
secret and staff TOTP key, ``COOKIE_SECURE=true``, JSON log lines (to a file in the temporary
directory), no demo data. ``--workers`` defaults to the number of CPUs.

Database: PostgreSQL when ``--database-url``, ``BENCH_DATABASE_URL`` or
``TEST_DATABASE_URL`` is set -- a fresh database ``<db>_gdzwfw_idp_bench`` is created on
that server (dropped at the end unless ``--keep``) -- otherwise SQLite (WAL)
in a temporary directory. The database is migrated to head; a confidential
client ``bench-rp`` (redirect ``http://127.0.0.1:8099/cb``; grants
authorization_code, refresh_token, client_credentials; introspection allowed)
comes from ``GDZWFW_CLIENTS``; one legal-person account (trust level L2,
USCC 91440104MA5DL2B24P) is written directly into the database, because
production loads no demo data. All benchmark logins come from 127.0.0.1 and
succeed; only failed logins count against an address, so the login limits
keep their production values.

The provider's start-up step (signing key, client rows) is run once from this
process before the workers start, so the workers' own start-up (each runs it
again) finds the rows in place: on a fresh database two workers running it at
the same moment each create a signing key, and could race on the client row.

What it measures
----------------
Each measurement warms up (``--warmup``), then counts the responses completed
in ``--seconds`` on ``--concurrency`` keep-alive connections (default 48;
asyncio, one connection per task). Login flows run ``--flow-concurrency``
at a time (default 16): argon2id bounds their rate, more would only add
latency and need a longer warm-up to reach a steady state.

* ceiling -- ``GET /.well-known/openid-configuration``. ``/healthz`` is
  trivial but skips the session middleware, so discovery stands in for a
  trivial endpoint: in-memory JSON through the same middleware (request id + JSON access
  log, server-side sessions) and routing, no database, no thread hand-off.
* cc -- client_credentials grants: ``POST /token``, HTTP Basic client auth.
* introspect -- ``POST /introspect`` of a pre-issued client_credentials
  access token (the same shape as the reference figure).
* flow -- complete authorization-code flows, each with a fresh cookie jar:
  ``GET /authorize`` (303 to login) -> ``GET /login`` -> ``POST /login``
  (CSRF, argon2id verify) -> ``GET /authorize/resume`` (302 with code) ->
  ``POST /token`` with the PKCE verifier (RS256 ID token). Per-step p50s are
  printed too.
* introspect-user -- introspection of an access token issued to the account
  by a flow (adds the account lookup for the profile claims).

Each line gives requests (or flows) per second, the ratio to the ceiling of
the same run, p50/p99 latency, errors, and CPU time per request of the server
(its process group), of PostgreSQL (all ``postgres`` processes) and of this
load generator, read from /proc. The load generator runs on the same CPUs as
the server, so the absolute numbers understate what the server alone could
do; the ratios and the server CPU per request are the figures to compare.
``est. 2-core`` is CPUs / (server + database CPU per request): what the
server would reach if nothing else used the CPUs (an upper bound). The CPU
time of other processes (other users of the machine) is shown as "other".

``--client raw`` (default) is a minimal HTTP/1.1 client on asyncio streams
(uvloop when installed), so that the load generator costs as little CPU as
possible; ``--client httpx`` uses one ``httpx.AsyncClient`` with a pool of
``--concurrency`` connections and costs several times more CPU per request.

Reference (from the issue): about 6,000 client_credentials grants/s and
5,800 introspections/s for the best Node.js provider on the same two cores.

Profiling (``--profile``)
-------------------------
First, an in-process copy of the app on the same database serves the same
requests one at a time: SQL statements, transactions and pool check-outs per
request (on PostgreSQL a check-out after 5 s idle also pings, ``SELECT 1``) and
CPU per request, per step for the login flow. Then the server is restarted
with one worker and sampled with py-spy (``--py-spy PATH``, else ``py-spy``
on PATH or next to the Python executable; ``pip install --target DIR py-spy``
keeps it out of the project, then pass ``--py-spy DIR/bin/py-spy``) in
``--gil`` mode, i.e. Python CPU time, while client_credentials and then
introspection load runs. The collapsed stacks are kept (``--profile-dir``,
else a temporary directory that is printed) for flamegraph.pl or speedscope,
and summarised: every sample in one category (argon2, signing, pre-ping,
logging, DB driver, SQLAlchemy compilation / pool / execution, Authlib server
construction, Authlib, json, templates, form parsing, thread hand-off, else
the package of the innermost frame), a few inclusive shares, and the
hottest functions. Without py-spy only the in-process figures are printed.

Ctrl-C (or SIGTERM) stops the server, py-spy and the load, and removes what
was created (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from devtools.stack import ROOT, Stack, StackConfig, database_urls, drop_databases, free_port, group_cpu_seconds, migrate, process_stat

__all__ = ["main"]

SERVICE = "gdzwfw_idp"
HOST = "127.0.0.1"
CLIENT_ID = "bench-rp"
REDIRECT_URI = "http://127.0.0.1:8099/cb"
LOGIN_NAME = "bench_l2"
USCC = "91440104MA5DL2B24P"
REFERENCE = (
    "reference (issue): about 6,000 client_credentials grants/s and 5,800 introspections/s "
    "for the best Node.js provider on the same two cores"
)
MEASUREMENTS = ("ceiling", "cc", "introspect", "flow", "introspect-user")
LABELS = {
    "ceiling": "ceiling: GET /.well-known/openid-configuration",
    "cc": "client_credentials: POST /token",
    "introspect": "introspection (client token)",
    "flow": "authorization-code flows (5 requests)",
    "introspect-user": "introspection (user token)",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
CSRF_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')


class BenchError(RuntimeError):
    pass


_STARTED = time.monotonic()


def note(message: str) -> None:
    """Progress on stderr, with the time since the bench started."""
    print(f"  [{time.monotonic() - _STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


# -- database and server -----------------------------------------------------
# Start-up is devtools/stack.py's, as for make run and the integration tests:
# the bench only configures gdzwfw_idp for production and runs it alone.
def bench_database(base_url: str | None, tmp: Path) -> str:
    """SQLite under ``tmp``, or a fresh ``<db>_gdzwfw_idp_bench`` next to ``base_url``."""
    return database_urls(base_url=base_url, var_dir=tmp, suffix="_bench", names=(SERVICE,))[SERVICE]


@dataclass
class Config:
    database_url: str
    port: int
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    staff_totp_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    password: str = field(default_factory=lambda: "Bench@" + secrets.token_urlsafe(12))
    redis_url: str | None = None
    # The internal Prometheus port (production's *_METRICS_PORT), when the bench reads the server's own figures.
    metrics_port: int | None = None

    @property
    def public_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def is_postgres(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "postgresql"

    def clients(self) -> list[dict[str, Any]]:
        return [
            {
                "client_id": CLIENT_ID,
                "client_secret": self.client_secret,
                "client_name": "bench relying party",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "introspection_allowed": True,
            }
        ]

    def stack_config(self, *, workers: int = 1) -> StackConfig:
        """gdzwfw_idp alone, in production: fresh secrets, secure cookies, JSON
        logs, no demo data, the bench client only, none of this shell's
        ``GDZWFW_*`` variables."""
        return StackConfig(
            database_urls={SERVICE: self.database_url},
            ports={SERVICE: self.port},
            host=HOST,
            environment="production",
            log_json=True,
            # Sessions, interactions and login counters in Redis, as deployed
            # (deploy/docker-compose.yml), when a Redis URL is given.
            redis_url=self.redis_url,
            redis_key_prefix=f"bench{self.port}:",
            extra_env={
                SERVICE: {
                    "GDZWFW_SECRET_KEY": self.secret_key,
                    "GDZWFW_STAFF_TOTP_KEYS": self.staff_totp_key,
                    "GDZWFW_COOKIE_SECURE": "true",
                    "GDZWFW_LOG_LEVEL": "INFO",
                    "GDZWFW_CLIENTS": json.dumps(self.clients()),
                    **({"GDZWFW_METRICS_PORT": str(self.metrics_port)} if self.metrics_port is not None else {}),
                }
            },
            serve_workers={SERVICE: workers},
            inherit_service_env=False,
        )

    def settings(self):
        from services.gdzwfw_idp.settings import IdpSettings

        return IdpSettings(
            environment="production",
            secret_key=self.secret_key,
            staff_totp_keys=self.staff_totp_key,
            cookie_secure=True,
            database_url=self.database_url,
            public_url=self.public_url,
            clients=self.clients(),
        )


def prepare_database(cfg: Config) -> None:
    """Migrate, run the provider's start-up step once, add the L2 account."""
    from services.gdzwfw_idp.accounts import find_by_login_name, new_account_id, record_level_change
    from services.gdzwfw_idp.app import create_app
    from services.gdzwfw_idp.models import Account
    from shared.passwords import PasswordService
    from shared.trust import TrustLevel

    migrate(SERVICE, cfg.database_url)
    settings = cfg.settings()
    provider = create_app(settings).state.provider
    db = provider.db
    try:
        provider.prepare(list(settings.clients))  # what each worker's lifespan does first
        with db.transaction() as s:
            if find_by_login_name(s, login_name=LOGIN_NAME) is None:
                account = Account(
                    id=new_account_id(),
                    account_type="legal_person",
                    login_name=LOGIN_NAME,
                    password_hash=PasswordService().hash(cfg.password),
                    status="active",
                    trust_level=TrustLevel.L1.name,
                    verification_method="",
                    mobile="13800138000",
                    org_name="广州市越秀区压测贸易有限公司",
                    uscc=USCC,
                    legal_rep_name="李华",
                    legal_rep_id_number="440104198505120024",
                    created_at=dt.datetime.now(dt.UTC),
                )
                s.add(account)
                s.flush()
                account.trust_level = None  # recorded as a change from nothing, like the demo loader
                record_level_change(
                    s,
                    account=account,
                    to_level=TrustLevel.L2,
                    method="企业/单位网银证书核验",
                    evidence="压测账号",
                    actor="devtools.bench",
                    at=dt.datetime.now(dt.UTC),
                )
    finally:
        db.dispose()


class Server:
    """gdzwfw_idp as one ``manage serve --workers N`` process group, started
    (every worker's start-up done) and stopped (SIGTERM, then SIGKILL) by
    :class:`devtools.stack.Stack`; its log is ``gdzwfw_idp.log`` in ``log_dir``."""

    def __init__(self, cfg: Config, *, workers: int, log_dir: Path) -> None:
        self.cfg = cfg
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stack = Stack(cfg.stack_config(workers=workers), log_dir=log_dir)

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.stack.processes.get(SERVICE)

    def start(self, timeout: float = 60.0) -> None:
        try:
            self.stack.start((SERVICE,), timeout=timeout)
        except RuntimeError as exc:
            raise BenchError(f"{exc}:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.stack.log_text(SERVICE).splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole process group (master and workers)."""
        return 0.0 if self.proc is None else group_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.stack.stop()


def _processes() -> list[tuple[int, str]]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                comm = Path(f"/proc/{name}/comm").read_text().strip()
            except OSError:
                continue
            out.append((int(name), comm))
    return out


def _comm_cpu_seconds(comm: str) -> float:
    """CPU of every process named ``comm``, including children they reaped
    (the postmaster collects the time of backends that have exited)."""
    total = 0
    for pid, name in _processes():
        if name == comm:
            st = process_stat(pid)
            if st:
                total += sum(int(x) for x in st[11:15])
    return total / CLK_TCK


def _pg_sessions(url: str | None) -> int:
    """Sessions ever opened on the bench database (PostgreSQL 14+), minus this probe's own."""
    if not url:
        return 0
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def _machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all CPUs), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class CpuSnapshot:
    server: float
    postgres: float
    loadgen: float
    machine: float
    pg_sessions: int

    @classmethod
    def take(cls, server: Server | None) -> CpuSnapshot:
        pg_url = server.cfg.database_url if server and server.cfg.is_postgres else None
        return cls(
            server=server.cpu_seconds() if server else 0.0,
            postgres=_comm_cpu_seconds("postgres") if pg_url else 0.0,
            loadgen=time.process_time(),
            machine=_machine_busy_seconds(),
            pg_sessions=_pg_sessions(pg_url),
        )


# -- HTTP clients ----------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


@dataclass
class Fixed:
    """A request sent many times; the raw client sends its pre-built bytes."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw: bytes = b""

    def __post_init__(self) -> None:
        self.raw = build_request(self.method, self.target, self.headers, self.body)


def build_request(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}", *(f"{k}: {v}" for k, v in headers)]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams (Content-Length
    and chunked bodies; reconnects after ``Connection: close`` or an error)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def fixed(self, req: Fixed) -> Reply:
        return await self._send(req.raw)

    async def request(self, method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> Reply:
        return await self._send(build_request(method, target, headers or [], body))

    async def _send(self, raw: bytes) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port, limit=1 << 20)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers: list[tuple[str, str]] = []
            length, chunked, close = None, False, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip()
                headers.append((name, value))
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
                elif name == "connection" and value.lower() == "close":
                    close = True
            if chunked:
                body = await self._chunked()
            elif length:
                body = await self.reader.readexactly(length)
            else:
                body = b""
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return Reply(status, headers, body)

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class HttpxConnection:
    """The same interface on a shared ``httpx.AsyncClient`` (its pool)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def fixed(self, req: Fixed) -> Reply:
        return await self.request(req.method, req.target, req.headers, req.body)

    async def request(self, method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> Reply:
        r = await self.client.request(method, target, headers=headers or [], content=body or None)
        # Cookies are handled per flow by the caller; never let the shared jar carry them.
        self.client.cookies.clear()
        return Reply(r.status_code, [(k.lower(), v) for k, v in r.headers.multi_items()], r.content)

    async def close(self) -> None:
        return None


# -- the operations measured ----------------------------------------------------
def basic_auth(client_secret: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{CLIENT_ID}:{client_secret}".encode()).decode())


FORM = ("Content-Type", "application/x-www-form-urlencoded")


class FlowError(Exception):
    def __init__(self, step: str, reply: Reply | None, detail: str = "") -> None:
        body = reply.body[:200].decode("utf-8", "replace") if reply else ""
        super().__init__(f"{step}: {reply.status if reply else '-'} {detail} {body}".strip())


def _cookie(reply: Reply, name: str = "gdzwfw_sid") -> str | None:
    for value in reply.all("set-cookie"):
        if value.startswith(name + "="):
            return value.split(";", 1)[0].split("=", 1)[1] or None
    return None


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


StepHook = Callable[[str, float, float], None]


async def authorization_code_flow(conn: Any, cfg: Config, hook: StepHook | None = None) -> dict[str, Any]:
    """One login from scratch with its own cookie jar; returns the token response."""
    clock = time.perf_counter
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "state": state,
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )

    t = clock()
    r = await conn.request("GET", "/authorize?" + query)
    if r.status != 303 or not r.header("location"):
        raise FlowError("authorize", r)
    login_path = _path(r.header("location"))
    if hook:
        hook("1 GET /authorize", t, t := clock())

    r = await conn.request("GET", login_path)
    sid = _cookie(r)
    match = CSRF_RE.search(r.body)
    if r.status != 200 or not sid or not match:
        raise FlowError("login page", r, "no session cookie or CSRF token")
    interaction = parse_qs(urlsplit(login_path).query)["interaction"][0]
    if hook:
        hook("2 GET /login", t, t := clock())

    form = urlencode(
        {
            "csrf_token": match.group(1).decode(),
            "interaction": interaction,
            "tab": "legal",
            "login_name": LOGIN_NAME,
            "password": cfg.password,
        }
    ).encode()
    r = await conn.request("POST", "/login", [FORM, ("Cookie", f"gdzwfw_sid={sid}")], form)
    sid = _cookie(r)
    if r.status != 303 or not sid or not r.header("location"):
        raise FlowError("login", r)
    resume = _path(r.header("location"))
    if hook:
        hook("3 POST /login", t, t := clock())

    r = await conn.request("GET", resume, [("Cookie", f"gdzwfw_sid={sid}")])
    location = r.header("location") or ""
    params = parse_qs(urlsplit(location).query)
    if r.status != 302 or not location.startswith(REDIRECT_URI) or params.get("state") != [state] or "code" not in params:
        raise FlowError("resume", r, location)
    if hook:
        hook("4 GET /authorize/resume", t, t := clock())

    body = urlencode(
        {"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    ).encode()
    r = await conn.request("POST", "/token", [FORM, basic_auth(cfg.client_secret)], body)
    if r.status != 200:
        raise FlowError("token", r)
    token = json.loads(r.body)
    if "id_token" not in token or "access_token" not in token:
        raise FlowError("token", r, "no id_token")
    if hook:
        hook("5 POST /token (code)", t, clock())
    return token


def fixed_requests(cfg: Config) -> dict[str, Fixed]:
    auth = basic_auth(cfg.client_secret)
    return {
        "ceiling": Fixed("GET", "/.well-known/openid-configuration", []),
        "cc": Fixed("POST", "/token", [FORM, auth], b"grant_type=client_credentials"),
    }


def introspection_request(cfg: Config, token: str) -> Fixed:
    body = urlencode({"token": token, "token_type_hint": "access_token"}).encode()
    return Fixed("POST", "/introspect", [FORM, basic_auth(cfg.client_secret)], body)


def check_ceiling(r: Reply) -> bool:
    return r.status == 200 and b'"issuer"' in r.body


def check_cc(r: Reply) -> bool:
    return r.status == 200 and b'"access_token"' in r.body


def check_active(r: Reply) -> bool:
    return r.status == 200 and (b'"active": true' in r.body or b'"active":true' in r.body)


# -- running a measurement -----------------------------------------------------
@dataclass
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]
    ncpu: int
    first_error: str | None = None
    steps: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000

    def per_request_ms(self, key: str) -> float:
        return self.cpu[key] / self.count * 1000 if self.count else float("nan")


async def measure(
    name: str,
    *,
    connect: Callable[[], Any],
    op: Callable[[Any, Callable[[str, float, float], None] | None], Awaitable[bool]],
    concurrency: int,
    warmup: float,
    seconds: float,
    server: Server | None,
    ncpu: int,
) -> Result:
    window: dict[str, float] = {"t0": float("inf"), "t1": float("inf")}
    stop = asyncio.Event()
    latencies: list[float] = []
    steps: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []

    def step_hook(step: str, start: float, end: float) -> None:
        if window["t0"] <= end <= window["t1"]:
            steps[step].append(end - start)

    async def worker() -> None:
        conn = connect()
        try:
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    ok, detail = await op(conn, step_hook), None
                except Exception as exc:  # a failed request is counted, never fatal to the measurement
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                    await conn.close()
                end = time.perf_counter()
                if window["t0"] <= end <= window["t1"]:
                    if ok:
                        latencies.append(end - start)
                    else:
                        errors.append(detail or "unexpected response")
                if not ok:
                    await asyncio.sleep(0.01)  # do not spin on a refusing server
        finally:
            await conn.close()

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.sleep(warmup)
        before = CpuSnapshot.take(server)
        window["t0"] = time.perf_counter()
        await asyncio.sleep(seconds)
        window["t1"] = time.perf_counter()
        after = CpuSnapshot.take(server)
        stop.set()
        # In-flight requests are not counted; do not wait long for slow ones.
        _done, pending = await asyncio.wait(tasks, timeout=1.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
    elapsed = window["t1"] - window["t0"]
    cpu = {
        "server": after.server - before.server,
        "postgres": after.postgres - before.postgres,
        "loadgen": after.loadgen - before.loadgen,
    }
    cpu["other"] = max(0.0, (after.machine - before.machine) - sum(cpu.values()))
    cpu["elapsed"] = elapsed
    cpu["pg_sessions"] = max(0, after.pg_sessions - before.pg_sessions - 1)
    return Result(
        name=name,
        count=len(latencies),
        errors=len(errors),
        seconds=elapsed,
        latencies=latencies,
        cpu=cpu,
        ncpu=ncpu,
        first_error=Counter(errors).most_common(1)[0][0] if errors else None,
        steps=dict(steps),
    )


def _fixed_op(req: Fixed, check: Callable[[Reply], bool]):
    async def op(conn: Any, _hook: Any) -> bool:
        return check(await conn.fixed(req))

    return op


def _flow_op(cfg: Config):
    async def op(conn: Any, hook: Any) -> bool:
        await authorization_code_flow(conn, cfg, hook)
        return True

    return op


class Connections:
    """Makes connections of the chosen kind for worker tasks."""

    def __init__(self, kind: str, port: int, concurrency: int) -> None:
        self.kind = kind
        self.port = port
        self.client = None
        if kind == "httpx":
            import httpx

            self.client = httpx.AsyncClient(
                base_url=f"http://{HOST}:{port}",
                limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
                timeout=60.0,
            )

    def __call__(self) -> Any:
        return HttpxConnection(self.client) if self.client else RawConnection(self.port)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


async def run_measurements(
    args: argparse.Namespace, cfg: Config, server: Server | None, ncpu: int, only: tuple[str, ...]
) -> dict[str, Result]:
    conns = Connections(args.client, cfg.port, args.concurrency)
    results: dict[str, Result] = {}
    fixed = fixed_requests(cfg)
    common = {"connect": conns, "warmup": args.warmup, "seconds": args.seconds, "server": server, "ncpu": ncpu}

    try:
        one = conns()
        # Fail early and clearly when the set-up is wrong.
        if not check_ceiling(r := await one.fixed(fixed["ceiling"])):
            raise BenchError(f"discovery answered {r.status}")
        if not check_cc(r := await one.fixed(fixed["cc"])):
            raise BenchError(f"client_credentials answered {r.status}: {r.body[:300]!r}")
        client_token = json.loads(r.body)["access_token"]
        user_token = (await authorization_code_flow(one, cfg))["access_token"]
        await one.close()

        plan: list[tuple[str, Any, int]] = [
            ("ceiling", _fixed_op(fixed["ceiling"], check_ceiling), args.concurrency),
            ("cc", _fixed_op(fixed["cc"], check_cc), args.concurrency),
            ("introspect", _fixed_op(introspection_request(cfg, client_token), check_active), args.concurrency),
            ("flow", _flow_op(cfg), args.flow_concurrency),
            ("introspect-user", _fixed_op(introspection_request(cfg, user_token), check_active), args.concurrency),
        ]
        for name, op, concurrency in plan:
            if name in only:
                note(f"measuring {name} ...")
                results[name] = await measure(name, op=op, concurrency=concurrency, **common)
    finally:
        await conns.aclose()
    return results


# -- output -----------------------------------------------------------------
def print_results(results: dict[str, Result], *, ncpu: int, postgres: bool) -> None:
    ceiling = results.get("ceiling")
    est_label = f"est. {ncpu}-core"
    cols = [
        "req/s",
        "vs ceiling",
        "p50 ms",
        "p99 ms",
        "errors",
        "server",
        "postgres" if postgres else None,
        "loadgen",
        "other %",
        est_label,
    ]
    cols = [c for c in cols if c]
    print()
    print(f"{'':46} {'':>8} {'':>10} {'':>8} {'':>8} {'':>8}  {'CPU ms per request':^{9 * (3 if postgres else 2) - 1}}")
    print(f"{'measurement':46} " + " ".join(f"{c:>{10 if c in ('vs ceiling', est_label) else 8}}" for c in cols))
    for name in MEASUREMENTS:
        r = results.get(name)
        if r is None:
            continue
        ratio = f"{r.rate / ceiling.rate:.2f}x" if ceiling and ceiling.rate else "-"
        if name == "ceiling":
            ratio = "1.00x"
        server_db = r.per_request_ms("server") + (r.per_request_ms("postgres") if postgres else 0.0)
        est = f"{ncpu * 1000 / server_db:,.0f}" if r.count and server_db > 0 else "-"
        row = [
            f"{r.rate:8,.0f}",
            f"{ratio:>10}",
            f"{r.pct(0.50):8.1f}",
            f"{r.pct(0.99):8.1f}",
            f"{r.errors:8d}",
            f"{r.per_request_ms('server'):8.2f}",
        ]
        if postgres:
            row.append(f"{r.per_request_ms('postgres'):8.2f}")
        other = r.cpu["other"] / (r.cpu["elapsed"] * ncpu) * 100
        row += [f"{r.per_request_ms('loadgen'):8.2f}", f"{other:7.0f}%", f"{est:>10}"]
        print(f"{LABELS[name]:46} " + " ".join(row))
    for name, r in results.items():
        if r.first_error:
            print(f"  {name}: {r.errors} errors, most common: {r.first_error[:300]}")
    if (flow := results.get("flow")) and flow.steps:
        print("\n  flow steps, p50 ms: " + ", ".join(f"{s} {statistics.median(v) * 1000:.1f}" for s, v in sorted(flow.steps.items())))
    print()
    for name, r in results.items():
        used = {k: r.cpu[k] / (r.cpu["elapsed"] * ncpu) * 100 for k in ("server", "postgres", "loadgen", "other")}
        used["idle"] = max(0.0, 100 - sum(used.values()))
        line = f"  {name:16} CPU use of {ncpu} CPUs over {r.seconds:.1f} s: " + ", ".join(
            f"{k} {v:.0f}%" for k, v in used.items() if k != "postgres" or postgres
        )
        if postgres:
            line += f"; new PostgreSQL sessions {r.cpu['pg_sessions'] / r.seconds:,.0f}/s"
        print(line)
    print()
    print("  " + REFERENCE + ".")
    if ceiling:
        print(
            f"  The load generator shares the {ncpu} CPUs with the server: compare ratios to the ceiling and the server's"
            f" CPU per request rather than absolute req/s.\n  'other %' = CPU used by other processes on the machine meanwhile;"
            f" '{est_label}' = {ncpu} CPUs / (server{' + postgres' if postgres else ''} CPU per request), an upper bound."
        )


# -- profiling ----------------------------------------------------------------
def find_py_spy(explicit: str | None) -> str | None:
    candidates = [explicit, shutil.which("py-spy"), str(Path(sys.executable).parent / "py-spy")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda frame: any(n in frame for n in needles)


# Frames look like "Qualified.name (/path/file.py:line)". Each sample goes to
# the first category that matches any frame of its stack; what matches none
# goes to the package of its innermost frame.
CATEGORIES: list[tuple[str, Callable[[str], bool]]] = [
    ("argon2id password verification", _has("/argon2/")),
    ("RS256 ID-token signing (joserfc, cryptography)", _has("/joserfc/", "/cryptography/")),
    ("pool ping (SELECT 1 at a check-out after an idle spell)", _has("do_ping")),
    ("logging: access log line (JSON format + write)", _has("Logger._log", "Logger.handle", "Handler.handle")),
    (
        "DB driver (psycopg / sqlite3)",
        _has("/psycopg/", "/sqlite3/", "DefaultDialect.do_execute ", "DefaultDialect.do_commit ", "DefaultDialect.do_rollback "),
    ),
    ("SQLAlchemy: statement compilation, cache keys", _has("/sqlalchemy/sql/")),
    ("SQLAlchemy: pool check-out / return", _has("/sqlalchemy/pool/")),
    ("SQLAlchemy: execution, results, Session", _has("/sqlalchemy/")),
    ("Authlib: per-request server + grant construction", _has("BoundProvider.__init__")),
    ("Authlib: request handling", _has("/authlib/")),
    ("json", _has("/json/")),
    ("Jinja2 templates", _has("/jinja2/")),
    ("form / query parsing", _has("/multipart/", "read_oauth2_request", "formparsers.py")),
    ("thread hand-off (anyio, threading, queue)", _has("/anyio/", "threading.py", "/queue.py")),
]
INCLUSIVE: list[tuple[str, Callable[[str], bool]]] = [
    ("in the worker thread: Provider.token / Provider.endpoint", _has("Provider.token ", "Provider.endpoint ")),
    ("  Authlib client authentication (incl. its SQL)", _has("ClientAuthentication.")),
    ("  ProviderStore (the provider's SQL)", _has("ProviderStore.")),
    ("  Session commit", _has("Session.commit ")),
    ("on the event loop: RequestIdMiddleware and everything inside it", _has("RequestIdMiddleware.__call__")),
]


def _package(frame: str) -> str:
    m = re.match(r"^(?P<func>.*) \((?P<file>.*):\d+\)$", frame)
    path = m.group("file") if m else frame
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if str(ROOT) in path:
        return path.split(str(ROOT) + "/", 1)[1].removesuffix(".py").replace("/", ".")
    if "/lib/python" in path:
        rest = path.split("/lib/python", 1)[1].split("/", 1)[1]
        return "stdlib " + rest.split("/", 1)[0].removesuffix(".py")
    return path


def summarise_profile(raw: Path, *, top: int = 12) -> str:
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(c for _, c in stacks)
    if not total:
        return "  (no samples)"
    partition: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for frames, count in stacks:
        label = next((name for name, match in CATEGORIES if any(match(f) for f in frames)), None)
        partition[label or "other: " + _package(frames[-1])] += count
        for name, match in INCLUSIVE:
            if any(match(f) for f in frames):
                inclusive[name] += count
        by_function[re.sub(r"^(.*) \((.*/)?([^/]*):\d+\)$", r"\1 (\3)", frames[-1])] += count
    out = [f"  {total} samples of the thread holding the GIL (Python CPU time); each counted once, first matching row:"]
    for name, count in partition.most_common():
        if count / total >= 0.005:
            out.append(f"    {count / total * 100:5.1f}%  {name}")
    out.append("  inclusive:")
    for name, _ in INCLUSIVE:
        out.append(f"    {inclusive[name] / total * 100:5.1f}%  {name}")
    out.append("  hottest functions (self):")
    for name, count in by_function.most_common(top):
        out.append(f"    {count / total * 100:5.1f}%  {name}")
    return "\n".join(out)


async def count_sql(cfg: Config, *, repeat: int = 50) -> str:
    """Statements, transactions and pool check-outs per request, in-process."""
    import httpx
    from sqlalchemy import event

    from services.gdzwfw_idp.app import create_app

    app = create_app(cfg.settings())
    engine = app.state.provider.db.engine
    counts: Counter[str] = Counter()
    event.listen(engine, "before_cursor_execute", lambda *a, **k: counts.update(["statements"]))
    event.listen(engine, "begin", lambda *a: counts.update(["transactions"]))
    event.listen(engine.pool, "checkout", lambda *a: counts.update(["checkouts"]))
    is_sqlite = not cfg.is_postgres
    transport = httpx.ASGITransport(app=app, client=(HOST, 40000))
    lines = []

    def row(label: str, c: Counter[str], n: int, cpu: float) -> str:
        statements = c["statements"] - (c["transactions"] if is_sqlite else 0)  # SQLite's BEGIN IMMEDIATE is a statement
        return (
            f"    {label:46} {statements / n:5.1f} statements {c['transactions'] / n:5.1f} transactions"
            f" {c['checkouts'] / n:5.1f} check-outs {cpu / n * 1000:7.2f} ms CPU"
        )

    async with httpx.AsyncClient(transport=transport, base_url=cfg.public_url) as client:
        conn = HttpxConnection(client)
        fixed = fixed_requests(cfg)

        async def repeated(label: str, req: Fixed, check: Callable[[Reply], bool]) -> None:
            for _ in range(5):  # warm caches (statement cache, signing key)
                assert check(await conn.fixed(req)), label
            counts.clear()
            started = time.process_time()
            for _ in range(repeat):
                assert check(await conn.fixed(req)), label
            lines.append(row(label, counts, repeat, time.process_time() - started))

        await repeated(LABELS["ceiling"], fixed["ceiling"], check_ceiling)
        await repeated(LABELS["cc"], fixed["cc"], check_cc)
        token = json.loads((await conn.fixed(fixed["cc"])).body)["access_token"]
        await repeated(LABELS["introspect"], introspection_request(cfg, token), check_active)
        per_step: dict[str, Counter[str]] = defaultdict(Counter)
        step_cpu: Counter[str] = Counter()
        mark = (Counter(counts), time.process_time())

        def hook(step: str, _s: float, _e: float) -> None:
            nonlocal mark
            per_step[step].update(Counter({k: counts[k] - mark[0][k] for k in counts}))
            step_cpu[step] += time.process_time() - mark[1]
            mark = (Counter(counts), time.process_time())

        flows = max(3, repeat // 4)
        user_token = (await authorization_code_flow(conn, cfg))["access_token"]
        for _ in range(flows):
            mark = (Counter(counts), time.process_time())
            user_token = (await authorization_code_flow(conn, cfg, hook))["access_token"]
        for step in sorted(per_step):
            lines.append(row("  flow " + step, per_step[step], flows, step_cpu[step]))
        await repeated(LABELS["introspect-user"], introspection_request(cfg, user_token), check_active)
    app.state.provider.db.dispose()
    return "\n".join(lines)


async def profile(args: argparse.Namespace, cfg: Config, tmp: Path, ncpu: int) -> None:
    print("\nprofile: SQL and CPU per request, sequentially on an in-process app on the same database")
    print("  (CPU includes ~0.2 ms of the in-process httpx client per request; argon2id is ~40 ms of the login step)")
    print(await count_sql(cfg))
    spy = find_py_spy(args.py_spy)
    if spy is None:
        print("\nprofile: py-spy not found (pip install --target DIR py-spy, then --py-spy DIR/bin/py-spy); sampling skipped")
        return
    out_dir = Path(args.profile_dir) if args.profile_dir else tmp / "profile"
    out_dir.mkdir(parents=True, exist_ok=True)
    server = Server(cfg, workers=1, log_dir=tmp)
    try:
        server.start()
        fixed = fixed_requests(cfg)
        conns = Connections(args.client, cfg.port, args.concurrency)
        one = conns()
        token = json.loads((await one.fixed(fixed["cc"])).body)["access_token"]
        await one.close()
        jobs = [("cc", _fixed_op(fixed["cc"], check_cc)), ("introspect", _fixed_op(introspection_request(cfg, token), check_active))]
        for name, op in jobs:
            raw = out_dir / f"{name}.collapsed.txt"
            # Sample during the measured window only (after the warm-up).
            load = asyncio.create_task(
                measure(
                    name,
                    connect=conns,
                    op=op,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    seconds=args.seconds,
                    server=server,
                    ncpu=ncpu,
                )
            )
            await asyncio.sleep(args.warmup)
            spy_proc = await asyncio.create_subprocess_exec(
                spy,
                "record",
                "--pid",
                str(server.proc.pid),
                "--duration",
                str(max(1, int(args.seconds))),
                "--rate",
                "250",
                "--gil",
                "--nonblocking",
                "--format",
                "raw",
                "--full-filenames",
                "--output",
                str(raw),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                result = await load
                _, err = await asyncio.wait_for(spy_proc.communicate(), timeout=args.seconds + 30)
            finally:
                if spy_proc.returncode is None:
                    spy_proc.kill()
                    await spy_proc.wait()
            print(
                f"\nprofile: {LABELS[name]} with 1 worker under py-spy (sampling slows it): {result.rate:,.0f} req/s, "
                f"server CPU {result.per_request_ms('server'):.2f} ms/request"
            )
            if not raw.exists():
                print("  py-spy wrote nothing: " + err.decode(errors="replace")[-500:])
                continue
            print(summarise_profile(raw))
            print(f"  collapsed stacks: {raw}")
        await conns.aclose()
    finally:
        server.stop()


# -- main ---------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or None
    p = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=8.0, help="length of each measurement (default 8)")
    p.add_argument("--warmup", type=float, default=None, help="warm-up before each measurement (default: seconds/3, 1-3 s)")
    p.add_argument("--concurrency", type=int, default=48, help="keep-alive connections (default 48)")
    p.add_argument(
        "--flow-concurrency",
        type=int,
        default=16,
        help="concurrent login flows (default 16: argon2 bounds the rate, more only adds latency)",
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="uvicorn workers (default: number of CPUs)")
    p.add_argument("--database-url", default=env_url, help="PostgreSQL server URL (default BENCH_DATABASE_URL or TEST_DATABASE_URL)")
    p.add_argument("--sqlite", action="store_true", help="use SQLite even when a PostgreSQL URL is set")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator (default raw)")
    p.add_argument("--only", default=",".join(MEASUREMENTS), help="comma-separated subset of " + ",".join(MEASUREMENTS))
    p.add_argument("--profile", action="store_true", help="afterwards, SQL counts and a py-spy profile of cc and introspection")
    p.add_argument("--profile-dir", default=None, help="where py-spy's collapsed stacks go (kept)")
    p.add_argument("--py-spy", default=None, help="path of the py-spy executable")
    p.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory and the PostgreSQL database")
    args = p.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(3.0, max(1.0, args.seconds / 3))
    if args.sqlite:
        args.database_url = None
    unknown = set(args.only.split(",")) - set(MEASUREMENTS)
    if unknown:
        p.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    return args


async def _amain(args: argparse.Namespace, cfg: Config, tmp: Path, ncpu: int) -> None:
    server = Server(cfg, workers=args.workers, log_dir=tmp)
    only = tuple(args.only.split(","))
    try:
        server.start()
        note(f"server up ({args.workers} workers)")
        results = await run_measurements(args, cfg, server, ncpu, only)
    except Exception:
        if server.proc is not None:
            print("server log (last lines):\n" + server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
    print_results(results, ncpu=ncpu, postgres=cfg.is_postgres)
    if args.profile:
        await profile(args, cfg, tmp, ncpu)


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="gdzwfw-bench-"))
    bench_url = None
    started = time.monotonic()
    try:
        bench_url = bench_database(args.database_url, tmp)
        cfg = Config(database_url=bench_url, port=args.port or free_port())
        kind = (
            f"PostgreSQL {make_url(bench_url).render_as_string(hide_password=True)}" if cfg.is_postgres else "SQLite (WAL) in " + str(tmp)
        )
        try:
            import uvloop
        except ImportError:
            uvloop = None
        loadgen = ("raw HTTP/1.1 on asyncio" + (" (uvloop)" if uvloop else "")) if args.client == "raw" else "httpx.AsyncClient pool"
        print(
            f"gdzwfw_idp bench: production settings (ENVIRONMENT=production, COOKIE_SECURE=true, JSON logs), "
            f"--workers {args.workers} on {ncpu} CPUs, {kind}"
        )
        print(
            f"load generator: {loadgen}, {args.concurrency} keep-alive connections ({args.flow_concurrency} for flows), "
            f"in this process on the same {ncpu} CPUs; warm-up {args.warmup:g} s, {args.seconds:g} s per measurement"
        )
        note("preparing the database (migrate, signing key, client, L2 account) ...")
        prepare_database(cfg)
        note("starting the server ...")
        if uvloop is not None:
            uvloop.run(_amain(args, cfg, tmp, ncpu))
        else:
            asyncio.run(_amain(args, cfg, tmp, ncpu))
        print(f"\n(total {time.monotonic() - started:.0f} s)")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; server stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if args.keep:
            print(
                f"kept: {tmp}" + (f" and database {make_url(bench_url).database}" if bench_url and args.database_url else ""),
                file=sys.stderr,
            )
        else:
            if bench_url and args.database_url:
                with contextlib.suppress(Exception):
                    drop_databases({SERVICE: bench_url})
            if args.profile and not args.profile_dir and (tmp / "profile").exists():
                keep = Path(tempfile.mkdtemp(prefix="gdzwfw-bench-profile-"))
                for f in (tmp / "profile").iterdir():
                    shutil.move(str(f), keep / f.name)
                print(f"profile stacks kept in {keep}", file=sys.stderr)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
