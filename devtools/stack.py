"""Start the three services together: ``make run`` and the integration tests.

Each service runs as its own ``uvicorn`` process on loopback, configured only
through its environment variables (exactly as in production), after its
database has been migrated to head.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.migrations import upgrade_head
from shared.staff_totp import DEV_STAFF_TOTP_KEY

__all__ = [
    "StackConfig",
    "Stack",
    "free_port",
    "database_urls",
    "drop_databases",
    "migrate",
    "manage_command",
    "spawn",
    "wait_ready",
    "stop_process",
    "SERVICES",
]

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gdzwfw_idp", "hrss_isso", "refund_portal")
PREFIXES = {"gdzwfw_idp": "GDZWFW_", "hrss_isso": "ISSO_", "refund_portal": "REFUND_"}  # of each service's settings
# Where each service's pages and endpoints stand below its URL (hrss_isso's
# issuer, login and registration are all under /isso).
PATHS = {"gdzwfw_idp": "", "hrss_isso": "/isso", "refund_portal": ""}
# The services that send back-channel logout notices (``manage worker`` delivers their outbox).
PROVIDERS = ("gdzwfw_idp", "hrss_isso")
DEV_SECRET = "dev-secret-key-not-for-production"
# The audit log's HMAC key in development (refused in production like DEV_SECRET).
DEV_AUDIT_KEYS = {"dev-1": "dev-audit-key-not-for-production"}


# Ports for the services a test or bench starts. Not port 0's choice: that
# comes from the kernel's ephemeral range, which hands the same port out
# again (to the next free_port() or to any outgoing connection) before the
# service has bound it. The service then fails to bind, and its readiness
# check is answered by whichever server did: a CI run's stack sent its
# portal to another stack's ISSO. Below the ephemeral range instead, walking
# up from a random point of this process's own (another process's walk, even
# one with the same pid in another namespace, starts elsewhere), never the
# same port twice.
_PORTS_FROM, _PORTS_TO = 10_000, 32_000
_port_lock = threading.Lock()
_next_port = 0


def _new_walk() -> None:
    global _next_port
    _next_port = _PORTS_FROM + secrets.randbelow(_PORTS_TO - _PORTS_FROM)


_new_walk()
os.register_at_fork(after_in_child=_new_walk)  # a forked child does not repeat its parent's walk


def free_port() -> int:
    """A loopback port no server holds now and this process has not handed out before."""
    global _next_port
    with _port_lock:
        for _ in range(_PORTS_TO - _PORTS_FROM):
            port = _next_port
            _next_port = _next_port + 1 if _next_port + 1 < _PORTS_TO else _PORTS_FROM
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue  # another process's server, or one of ours still closing
                return port
    raise RuntimeError(f"no free loopback port between {_PORTS_FROM} and {_PORTS_TO}")


def database_urls(*, base_url: str | None, var_dir: Path, suffix: str = "", names: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """One database per service (of ``names``): SQLite files under ``var_dir``,
    or databases created next to ``base_url`` on a PostgreSQL server."""
    if not base_url:
        var_dir.mkdir(parents=True, exist_ok=True)
        return {name: f"sqlite:///{var_dir / f'{name}{suffix}.db'}" for name in names}
    url = make_url(base_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    urls = {}
    with admin.connect() as conn:
        for name in names:
            db_name = f"{url.database}_{name}{suffix}".lower()
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
            urls[name] = url.set(database=db_name).render_as_string(hide_password=False)
    admin.dispose()
    return urls


def drop_databases(urls: dict[str, str]) -> None:
    """Drop the PostgreSQL databases :func:`database_urls` created (test runs
    name them per process, so they would pile up on the server); SQLite files
    go with their temporary directory."""
    server = [make_url(u) for u in urls.values() if make_url(u).get_backend_name() == "postgresql"]
    if not server:
        return
    admin = create_engine(server[0].set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for url in server:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def migrate(name: str, database_url: str) -> None:
    """Bring the service's database to head."""
    upgrade_head(ROOT / "services" / name / "migrations", database_url)


def manage_command(service: str, *args: str) -> list[str]:
    """``python -m services.<service>.manage …`` with this interpreter."""
    return [sys.executable, "-m", f"services.{service}.manage", *args]


def spawn(command: list[str], env: Mapping[str, str], *, out: IO[bytes] | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    """``command`` in a session of its own, so that :func:`stop_process` ends
    its whole group (uvicorn's workers, a shell's child); its output to
    ``out``, else to this terminal."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
    )


def wait_ready(process: subprocess.Popen, url: str, *, timeout: float, label: str) -> None:
    """Until ``url`` answers 200; RuntimeError when the process exits first
    or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{label} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{label} did not become ready at {url} within {timeout:.0f} s")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, *, grace: float = 10) -> None:
    """``sig`` to the process's group (SIGTERM a stop, SIGKILL a crash);
    SIGKILL when it has not ended ``grace`` seconds later."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class StackConfig:
    database_urls: dict[str, str]
    ports: dict[str, int] = field(default_factory=lambda: {"gdzwfw_idp": 8001, "hrss_isso": 8002, "refund_portal": 8003})
    host: str = "127.0.0.1"
    environment: str = "development"
    isso_secret_at_gdzwfw: str = "dev-isso-secret-at-gdzwfw"
    refund_secret_at_isso: str = "dev-refund-secret-at-isso"
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    log_json: bool = False
    redis_url: str | None = None  # key-value state in Redis instead of each database
    redis_key_prefix: str = ""
    work_dir: Path = ROOT / "var"  # uploads and other files the services keep
    workers: bool = False  # a ``manage worker`` beside each provider
    # uvicorn processes per service (``manage serve --workers``); 1 when absent.
    serve_workers: dict[str, int] = field(default_factory=dict)
    # Set: each service and its worker write their metrics under <dir>/<service>
    # (prometheus_client's multiprocess mode), so the service's /metrics shows the worker's too.
    metrics_dir: Path | None = None
    # False: a service sees none of this process's variables with its prefix
    # (GDZWFW_…), only what environments() gives it (the bench measures exactly that).
    inherit_service_env: bool = True

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name]}"

    def base(self, name: str) -> str:
        """The service's URL with its path (PATHS): for a provider, its issuer."""
        return self.url(name) + PATHS[name]

    def fapi_registration(self, jwks_uri: str) -> dict[str, object]:
        """How the ISSO (at gdzwfw_idp) and the portal (at the ISSO) are
        registered: in development as FAPI 2.0 clients, signing private_key_jwt
        assertions with a key derived at start-up (shared.oauth.rp_keys),
        published at ``jwks_uri``; they must push their requests (PAR) and
        prove a DPoP key at the token endpoint. Elsewhere they keep their
        secrets unless a private key is configured (deploy/README.md)."""
        if self.environment != "development":
            return {}
        return {"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri, "profile": "fapi2"}

    def environments(self) -> dict[str, dict[str, str]]:
        # A stack of fewer services (the bench runs gdzwfw_idp alone) has no
        # port or database for the others; their environments are not used.
        # Names without the service's prefix (PREFIXES): it is added at the end.
        idp, isso, refund = (self.url(n) if n in self.ports else "" for n in SERVICES)
        isso_base = isso + PATHS["hrss_isso"]
        db = {n: self.database_urls.get(n, "") for n in SERVICES}
        common = {
            "ENVIRONMENT": self.environment,
            "SECRET_KEY": DEV_SECRET,
            "COOKIE_SECURE": "false",
            "LOG_JSON": str(self.log_json).lower(),
        }
        if self.redis_url:
            common.update(REDIS_URL=self.redis_url, REDIS_KEY_PREFIX=self.redis_key_prefix)
        unprefixed = {
            "gdzwfw_idp": {
                **common,
                "DATABASE_URL": db["gdzwfw_idp"],
                "PUBLIC_URL": idp,
                # New secrets under the first key; the second still reads the demo
                # staff of a var/ database from before the setting, whose secrets
                # were encrypted under the secret key.
                "STAFF_TOTP_KEYS": f"{DEV_STAFF_TOTP_KEY},{DEV_SECRET}",
                "CLIENTS": json.dumps(
                    [
                        {
                            "client_id": "hrss-isso",
                            "client_secret": self.isso_secret_at_gdzwfw,
                            **self.fapi_registration(f"{isso_base}/federation/gdzwfw/jwks.json"),
                            "client_name": "广东人社统一认证",
                            "redirect_uris": [f"{isso_base}/federation/gdzwfw/callback"],
                            "post_logout_redirect_uris": [f"{isso_base}/logged-out"],
                            "backchannel_logout_uri": f"{isso_base}/backchannel-logout",
                            "grant_types": ["authorization_code", "refresh_token"],
                            # id_number: 个人注册 through the province needs the person's ID number.
                            "scope": "openid profile id_number",
                        }
                    ]
                ),
            },
            "hrss_isso": {
                **common,
                "DATABASE_URL": db["hrss_isso"],
                "STAFF_TOTP_KEYS": DEV_STAFF_TOTP_KEY,
                "PUBLIC_URL": isso,
                "GDZWFW_ISSUER": idp,
                "GDZWFW_CLIENT_SECRET": self.isso_secret_at_gdzwfw,
                "CLIENTS": json.dumps(
                    [
                        {
                            "client_id": "refund-portal",
                            "client_secret": self.refund_secret_at_isso,
                            **self.fapi_registration(f"{refund}/auth/jwks.json"),
                            # Its API introspects with the secret (the fast path).
                            "introspection_endpoint_auth_method": "client_secret_basic",
                            "client_name": "失业保险稳岗返还",
                            "redirect_uris": [f"{refund}/auth/callback"],
                            "post_logout_redirect_uris": [f"{refund}/"],
                            "backchannel_logout_uri": f"{refund}/auth/backchannel-logout",
                            "grant_types": ["authorization_code", "refresh_token"],
                            # Allowed, not asked for: the portal's pages work from
                            # its own session and never call its API, so its login
                            # requests openid profile only. A front end of the
                            # portal that calls /api/v1 would ask for these.
                            "scope": "openid profile refund.read refund.confirm",
                            "introspection_allowed": True,
                        }
                    ]
                ),
            },
            "refund_portal": {
                **common,
                "DATABASE_URL": db["refund_portal"],
                "STAFF_TOTP_KEYS": DEV_STAFF_TOTP_KEY,
                "PUBLIC_URL": refund,
                "ISSO_ISSUER": isso_base,
                "ISSO_CLIENT_SECRET": self.refund_secret_at_isso,
                "GDZWFW_VERIFICATION_URL": f"{idp}/account/verification",
                "AUDIT_KEYS": json.dumps(DEV_AUDIT_KEYS),
            },
        }
        envs = {name: {PREFIXES[name] + key: value for key, value in env.items()} for name, env in unprefixed.items()}
        for name, extra in self.extra_env.items():
            envs[name].update(extra)
        return envs


class Stack:
    def __init__(self, config: StackConfig, *, log_dir: Path | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        # Where each process's log stood when it was (re)started: a restart appends.
        self._log_offsets: dict[str, int] = {}

    def migrate(self, names: tuple[str, ...] = SERVICES) -> None:
        for name in names:
            migrate(name, self.config.database_urls[name])

    def start(self, names: tuple[str, ...] = SERVICES, *, timeout: float = 90.0) -> None:
        # Three services import and start at once: on a loaded 2-CPU machine
        # that alone took over 30 s (the browser suite then never started).
        envs = self.config.environments()
        for name in names:
            inherited = os.environ
            if not self.config.inherit_service_env:
                inherited = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES[name])}
            env = {**inherited, **envs[name]}
            if self.config.metrics_dir is not None:
                # Files of a previous run would be added to this one's values.
                metrics = self.config.metrics_dir / name
                shutil.rmtree(metrics, ignore_errors=True)
                metrics.mkdir(parents=True)
                env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
            serve = ["serve", "--host", self.config.host, "--port", str(self.config.ports[name])]
            serve += ["--workers", str(self.config.serve_workers.get(name, 1))]
            self.processes[name] = self._spawn(name, serve, env)
            if self.config.workers and name in PROVIDERS:
                self.processes[f"{name}-worker"] = self._spawn(f"{name}-worker", ["worker"], env)
        for name in names:
            self._wait_ready(name, timeout)

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = None
        if self.log_dir:
            path = self.log_path(name)
            self._log_offsets[name] = path.stat().st_size if path.exists() else 0
            out = open(path, "ab")  # noqa: SIM115 - closed by stop()
            self._logs.append(out)
        return spawn(manage_command(name.removesuffix("-worker"), *command), env, out=out)

    def _wait_ready(self, name: str, timeout: float) -> None:
        # Readiness, not liveness: /readyz answers 200 only once start-up is
        # done and the database (and Redis) answer.
        deadline = time.monotonic() + timeout
        process = self.processes[name]
        try:
            wait_ready(process, f"{self.config.url(name)}/readyz", timeout=timeout, label=name)
        except RuntimeError as exc:
            if self.log_dir is None:
                raise
            raise RuntimeError(f"{exc}: {self.log_text(name)[-2000:]}") from None
        # Only its log tells the rest; without one (make run) readiness is enough.
        if self.log_dir is None:
            return
        # The answer may have come from another server on the port, if one
        # took it first: this process then fails to bind it, after its own
        # start-up. Only its log says that it holds the port: one worker logs
        # uvicorn's "running on" line once bound. Several workers start only
        # after their supervisor has bound the port (whose own lines go
        # unlogged: the app configures logging), so their start-ups say it;
        # /readyz answered once one was up, and a bench must not measure the
        # others' start-up either.
        workers = self.config.serve_workers.get(name, 1)
        bound = f"running on {self.config.url(name)} "

        def holds_port(log: str) -> bool:
            return log.count("Application startup complete") >= workers if workers > 1 else bound in log

        while not holds_port(log := self.log_text(name)):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {log[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name}: its log does not show it listening on its port with all of its {workers} workers"
                    f" within {timeout:.0f} s (the stack reads uvicorn's INFO lines: is its log level above INFO?)"
                )
            time.sleep(0.05)

    def log_path(self, name: str) -> Path:
        assert self.log_dir is not None, "a stack without a log folder logs to the terminal"
        return self.log_dir / f"{name}.log"

    def log_text(self, name: str) -> str:
        """What ``name`` has logged since it was last started."""
        try:
            with open(self.log_path(name), "rb") as f:
                f.seek(self._log_offsets.get(name, 0))
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, names: tuple[str, ...] | None = None) -> None:
        for name in names or tuple(self.processes):
            proc = self.processes.pop(name, None)
            if proc is not None:
                stop_process(proc)
        if not self.processes:
            for log in self._logs:
                log.close()
            self._logs.clear()


def process_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is index 0, the process group 2, utime 11, stime 12)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def group_cpu_seconds(group: int) -> float:
    """User + system CPU of a process group: a service started by :class:`Stack`
    (its own session) is uvicorn's master and its workers."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = process_stat(int(entry.name))
            if fields and int(fields[2]) == group:
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
