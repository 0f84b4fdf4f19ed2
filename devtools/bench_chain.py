"""``make bench-chain``: the refund API behind the whole chain, and what a
login and a token cost in storage.

    python -m devtools.bench_chain [--duration 10s] [--warmup 3s] [--connections 32] [--database-url URL]

A benchmark, not a test: it prints figures and never fails on them.

The three services run as ``make run`` starts them (development settings:
the demo units and their refund records are needed), on a fresh PostgreSQL
database each (``--database-url``, ``BENCH_DATABASE_URL`` or
``TEST_DATABASE_URL``; default the local server's ``test``). demo-rp logs
in as ``demo_l2`` through hrss_isso and gdzwfw_idp and takes an access token
with ``refund.read``. Then:

* the refund API: ``GET /api/v1/refunds/me`` with that bearer token, wrk
  (2 threads, ``--connections`` keep-alive connections, warm-up, then the
  measurement): requests/s, p50, p99. The portal introspects the token at
  hrss_isso once and caches the answer, as in production.
* storage per live login: the session rows each service keeps for the
  browser that logged in (bytes as PostgreSQL stores them), and per token:
  an access + refresh token row at hrss_isso with its index entries.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from devtools.demo_client import DEMO_RP, isso_tokens
from devtools.stack import SERVICES, Stack, StackConfig, database_urls, drop_databases, free_port, group_cpu_seconds

_LATENCY = re.compile(r"^\s+(50|99)%\s+(\S+)", re.M)


def wrk_get(url: str, token: str, args: argparse.Namespace, server_pid: int) -> tuple[str, str, str, float]:
    """Requests/s, p50, p99, and the server's CPU per request (µs): the last one
    hardly depends on what else the machine is running."""
    header = ["-H", f"Authorization: Bearer {token}"]
    subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.warmup}", *header, url], check=True, capture_output=True)
    cpu_before = group_cpu_seconds(server_pid)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}", "--latency", *header, url], check=True, capture_output=True, text=True
    ).stdout
    cpu = group_cpu_seconds(server_pid) - cpu_before
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    latencies = dict(_LATENCY.findall(out))
    if "Non-2xx" in out:
        raise SystemExit(f"the refund API answered errors under load:\n{out}")
    return rps, latencies["50"], latencies["99"], cpu / max(total, 1) * 1e6


def session_bytes(url: str) -> list[int]:
    """Stored size of each live session row (key, value, counter, expiry)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT pg_column_size(kv.*) FROM kv_entry kv WHERE key LIKE 'session:%'"))]
    finally:
        engine.dispose()


def token_bytes(url: str) -> tuple[int, float]:
    """Token rows at the provider, and bytes per row with its indexes."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM oauth_token")).scalar_one()
            size = conn.execute(text("SELECT pg_total_relation_size('oauth_token')")).scalar_one()
        return count, size / max(count, 1)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    env_url = (
        os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    p = argparse.ArgumentParser(prog="python -m devtools.bench_chain", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", default="10s")
    p.add_argument("--warmup", default="3s")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--tokens", type=int, default=500, help="tokens issued before measuring bytes per token row")
    p.add_argument("--database-url", default=env_url)
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers of refund_portal (default 2, as deployed)")
    p.add_argument("--profile", metavar="PY_SPY", default=None, help="py-spy executable: record refund_portal during the load")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    config = StackConfig(
        database_urls=database_urls(base_url=args.database_url, var_dir=tmp, suffix="_benchchain"),
        ports={name: free_port() for name in SERVICES},
        work_dir=tmp,
        serve_workers={"refund_portal": args.workers},
    )
    stack = Stack(config, log_dir=tmp)
    try:
        stack.migrate()
        stack.start(timeout=300)
        print(
            f"chain up (development settings, PostgreSQL; refund_portal with {args.workers} workers); logging in as demo_l2 ...", flush=True
        )
        tokens = isso_tokens(config, "demo_l2", scope="openid profile refund.read")
        for _ in range(args.tokens - 1):
            isso_refresh = tokens.get("refresh_token")
            if not isso_refresh:
                break
            tokens = httpx.post(
                f"{config.base('hrss_isso')}/token",
                data={"grant_type": "refresh_token", "refresh_token": isso_refresh},
                auth=DEMO_RP,
            ).json()
        api = f"{config.url('refund_portal')}/api/v1/refunds/me"
        first = httpx.get(api, headers={"Authorization": f"Bearer {tokens['access_token']}"})
        if first.status_code != 200:
            raise SystemExit(f"the refund API refused the token: {first.status_code} {first.text[:300]}")
        spy = None
        if args.profile:
            pid = stack.processes["refund_portal"].pid
            spy = subprocess.Popen(
                [
                    args.profile,
                    "record",
                    "-p",
                    str(pid),
                    "-d",
                    "8",
                    "-r",
                    "250",
                    "--gil",
                    "-f",
                    "raw",
                    "-o",
                    str(tmp / "refund-api.txt"),
                    "--nonblocking",
                    "--subprocesses",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        rps, p50, p99, cpu_us = wrk_get(api, tokens["access_token"], args, stack.processes["refund_portal"].pid)
        if spy is not None:
            spy.wait()
            print(f"py-spy stacks of refund_portal: {tmp / 'refund-api.txt'}")
        print(
            f"\nrefund API GET /api/v1/refunds/me, L2 bearer token, {args.connections} connections: "
            f"{float(rps):,.0f} req/s, p50 {p50}, p99 {p99} (target p99 < 10 ms); refund_portal CPU {cpu_us:,.0f} µs per request"
        )
        for name in ("gdzwfw_idp", "hrss_isso"):
            sizes = session_bytes(config.database_urls[name])
            if sizes:
                print(f"session at {name}: {len(sizes)} live, {max(sizes)} bytes stored (largest)")
        count, per_row = token_bytes(config.database_urls["hrss_isso"])
        print(f"tokens at hrss_isso: {count} rows (refresh rotation), {per_row:,.0f} bytes per row with its indexes")
    finally:
        stack.stop()
        drop_databases(config.database_urls)
        if not args.profile:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
