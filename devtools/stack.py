"""Start the three services together: ``make run`` and the integration tests.

Each service runs as its own ``uvicorn`` process on loopback, configured only
through its environment variables (exactly as in production), after its
database has been migrated to head.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.migrations import upgrade_head
from shared.staff_totp import DEV_STAFF_TOTP_KEY

__all__ = ["StackConfig", "Stack", "free_port", "database_urls", "drop_databases", "SERVICES"]

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gdzwfw_idp", "hrss_isso", "refund_portal")
PREFIXES = {"gdzwfw_idp": "GDZWFW_", "hrss_isso": "ISSO_", "refund_portal": "REFUND_"}  # of each service's settings
# The services that send back-channel logout notices (``manage worker`` delivers their outbox).
PROVIDERS = ("gdzwfw_idp", "hrss_isso")
DEV_SECRET = "dev-secret-key-not-for-production"
# The audit log's HMAC key in development (refused in production like DEV_SECRET).
DEV_AUDIT_KEYS = {"dev-1": "dev-audit-key-not-for-production"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        idp, isso, refund = (self.url(n) if n in self.ports else "" for n in SERVICES)
        db = {n: self.database_urls.get(n, "") for n in SERVICES}
        common = {
            "ENVIRONMENT": self.environment,
            "SECRET_KEY": DEV_SECRET,
            "COOKIE_SECURE": "false",
            "LOG_JSON": str(self.log_json).lower(),
        }
        if self.redis_url:
            common.update(REDIS_URL=self.redis_url, REDIS_KEY_PREFIX=self.redis_key_prefix)
        envs = {
            "gdzwfw_idp": {
                **{f"GDZWFW_{k}": v for k, v in common.items()},
                "GDZWFW_DATABASE_URL": db["gdzwfw_idp"],
                "GDZWFW_PUBLIC_URL": idp,
                # New secrets under the first key; the second still reads the demo
                # staff of a var/ database from before the setting, whose secrets
                # were encrypted under the secret key.
                "GDZWFW_STAFF_TOTP_KEYS": f"{DEV_STAFF_TOTP_KEY},{DEV_SECRET}",
                "GDZWFW_CLIENTS": json.dumps(
                    [
                        {
                            "client_id": "hrss-isso",
                            "client_secret": self.isso_secret_at_gdzwfw,
                            **self.fapi_registration(f"{isso}/isso/federation/gdzwfw/jwks.json"),
                            "client_name": "广东人社统一认证",
                            "redirect_uris": [f"{isso}/isso/federation/gdzwfw/callback"],
                            "post_logout_redirect_uris": [f"{isso}/isso/logged-out"],
                            "backchannel_logout_uri": f"{isso}/isso/backchannel-logout",
                            "grant_types": ["authorization_code", "refresh_token"],
                            # id_number: 个人注册 through the province needs the person's ID number.
                            "scope": "openid profile id_number",
                        }
                    ]
                ),
            },
            "hrss_isso": {
                **{f"ISSO_{k}": v for k, v in common.items()},
                "ISSO_DATABASE_URL": db["hrss_isso"],
                "ISSO_STAFF_TOTP_KEYS": DEV_STAFF_TOTP_KEY,
                "ISSO_PUBLIC_URL": isso,
                "ISSO_GDZWFW_ISSUER": idp,
                "ISSO_GDZWFW_CLIENT_SECRET": self.isso_secret_at_gdzwfw,
                "ISSO_CLIENTS": json.dumps(
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
                **{f"REFUND_{k}": v for k, v in common.items()},
                "REFUND_DATABASE_URL": db["refund_portal"],
                "REFUND_STAFF_TOTP_KEYS": DEV_STAFF_TOTP_KEY,
                "REFUND_PUBLIC_URL": refund,
                "REFUND_ISSO_ISSUER": f"{isso}/isso",
                "REFUND_ISSO_CLIENT_SECRET": self.refund_secret_at_isso,
                "REFUND_GDZWFW_VERIFICATION_URL": f"{idp}/account/verification",
                "REFUND_AUDIT_KEYS": json.dumps(DEV_AUDIT_KEYS),
            },
        }
        for name, extra in self.extra_env.items():
            envs[name].update(extra)
        return envs


class Stack:
    def __init__(self, config: StackConfig, *, log_dir: Path | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    def migrate(self, names: tuple[str, ...] = SERVICES) -> None:
        for name in names:
            upgrade_head(ROOT / "services" / name / "migrations", self.config.database_urls[name])

    def start(self, names: tuple[str, ...] = SERVICES, *, timeout: float = 90.0) -> None:
        # Three services import and start at once: on a loaded 2-CPU machine
        # that alone took over 30 s (the browser suite then never started).
        envs = self.config.environments()
        for name in names:
            inherited = os.environ
            if not self.config.inherit_service_env:
                inherited = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES[name])}
            env = {**inherited, **envs[name], "PYTHONUNBUFFERED": "1"}
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
        out = open(self.log_dir / f"{name}.log", "ab") if self.log_dir else None  # noqa: SIM115
        if out is not None:
            self._logs.append(out)
        service = name.removesuffix("-worker")
        return subprocess.Popen(
            [sys.executable, "-m", f"services.{service}.manage", *command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )

    def _wait_ready(self, name: str, timeout: float) -> None:
        # Readiness, not liveness: /readyz answers 200 only once start-up is
        # done and the database (and Redis) answer.
        deadline = time.monotonic() + timeout
        url = f"{self.config.url(name)}/readyz"
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.processes[name].returncode}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready at {url}")

    def stop(self, names: tuple[str, ...] | None = None) -> None:
        for name in names or tuple(self.processes):
            proc = self.processes.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
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
