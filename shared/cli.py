"""The operator commands every service has: migrate, rotate-keys, serve, worker.

Each service's ``manage.py`` builds one :class:`ServiceCli` and exposes its
``app_factory`` for uvicorn (``--factory services.<name>.manage:app_factory``),
so workers started by uvicorn build the app the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.migrations import upgrade_head

__all__ = ["ServiceCli"]


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass
class ServiceCli:
    name: str
    settings_cls: type
    default_port: int
    provider_tables: str | None = None  # "module:attr" for services that sign tokens
    kv_table: str | None = None  # "module:attr"; defaults to services.<name>.models:kv_table
    staff_totp_model: str | None = None  # "module:attr" of a staff model with TOTP secrets (shared.staff_totp)

    @property
    def migrations(self) -> Path:
        return Path(importlib.import_module(f"services.{self.name}").__file__).parent / "migrations"

    def app_factory(self) -> Any:
        from shared.web.logs import configure_logging

        settings = self.settings_cls()
        configure_logging(self.name, level=settings.log_level, json_lines=settings.log_json)
        return _resolve(f"services.{self.name}.app:create_app")(settings)

    def main(self, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(prog=f"python -m services.{self.name}.manage")
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("migrate", help="upgrade the database to the newest schema")
        if self.provider_tables:
            sub.add_parser("rotate-keys", help="retire the signing key and start signing with a new one")
        purge = sub.add_parser("purge-expired", help="delete expired sessions, counters and (providers) codes and tokens")
        purge.add_argument("--keep-days", type=int, default=1, help="keep expired codes/tokens this long to recognise replays")
        if self.staff_totp_model:
            sub.add_parser("reencrypt-staff-totp", help="encrypt every staff TOTP secret again under the first staff_totp_keys key")
        serve = sub.add_parser("serve", help="run the service with uvicorn")
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--port", type=int, default=self.default_port)
        serve.add_argument("--workers", type=int, default=1)
        worker = sub.add_parser("worker", help="deliver back-channel logout notices (providers) and purge expired rows, until stopped")
        worker.add_argument("--keep-days", type=int, default=1, help="as for purge-expired")
        worker.add_argument("--metrics-port", type=int, default=None, help="serve this worker's /metrics on this port")
        args = parser.parse_args(argv)
        settings = self.settings_cls()
        if args.command == "reencrypt-staff-totp":
            from shared.staff_totp import reencrypt_command

            model = _resolve(self.staff_totp_model)
            raise SystemExit(reencrypt_command([], service=self.name, settings=settings, database_url=settings.database_url, model=model))
        if args.command == "migrate":
            upgrade_head(self.migrations, settings.database_url)
            print(f"{self.name}: database at head")
        elif args.command == "rotate-keys":
            from shared.clock import SystemClock
            from shared.db import Database
            from shared.oauth.provider.keys import KeyManager

            keys = KeyManager(
                tables=_resolve(self.provider_tables),
                clock=SystemClock(),
                secret_key=settings.secret_key.get_secret_value(),
                publish_grace=settings.id_token_ttl + 300,
            )
            with Database(settings.database_url).transaction() as s:
                kid = keys.rotate(s)
            # Running servers pick the new key up within their key-cache window.
            print(f"{self.name}: now signing with key {kid}; retired keys stay in the JWKS until their ID tokens expire")
        elif args.command == "purge-expired":
            from shared.clock import SystemClock
            from shared.db import Database

            removed = self.purge_expired(Database(settings.database_url), SystemClock(), keep_days=args.keep_days)
            print(f"{self.name}: removed {removed} expired rows")
        elif args.command == "worker":
            self.worker(settings, keep_days=args.keep_days, metrics_port=args.metrics_port)
        elif args.command == "serve":
            import uvicorn

            own_dir = _multiprocess_metrics(args.workers)
            if settings.metrics_port is not None:
                self._serve_metrics(settings)
            uvicorn.run(
                f"services.{self.name}.manage:app_factory",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                # uvicorn kills a worker that has not answered its supervisor's
                # ping within this time, and a new worker answers only once its
                # imports are done: with the default 5 s, a busy machine (a
                # deploy beside other replicas starting, CI) killed every worker
                # mid-import, forever, without a line in the log (seen here).
                timeout_worker_healthcheck=60,
                log_config=None,
                # Client addresses (login throttling) come from X-Forwarded-For
                # only when the peer is one of *_TRUSTED_PROXIES: the app does
                # that itself (ServiceApp), where it also decides whether to
                # believe X-Request-ID. Off here, or uvicorn would trust
                # 127.0.0.1 by default and hide the real peer from the app.
                proxy_headers=False,
                # The app writes one access line per request (shared.web.logs).
                # uvicorn's own would be dropped, but only after it had
                # formatted the line's arguments on every response.
                access_log=False,
                # No software banner in every response (nothing a client needs).
                server_header=False,
            )
            if own_dir is not None:
                shutil.rmtree(own_dir, ignore_errors=True)

    def purge_expired(self, db: Any, clock: Any, *, keep_days: int) -> int:
        """Expired sessions and counters, and (providers) codes and tokens
        expired more than ``keep_days`` ago. The number of rows deleted."""
        from shared.kvstore import SqlKeyValueStore
        from shared.oauth.provider.store import ProviderStore

        removed = SqlKeyValueStore(db, _resolve(self.kv_table or f"services.{self.name}.models:kv_table"), clock).purge_expired()
        if self.provider_tables:
            with db.transaction() as s:
                store = ProviderStore(s, _resolve(self.provider_tables), clock)
                removed += store.purge_expired(before=clock.now() - dt.timedelta(days=keep_days))
        return removed

    def worker(self, settings: Any, *, keep_days: int, metrics_port: int | None) -> None:
        """Runs until SIGTERM or SIGINT; the app is built only for its parts
        (the provider signs the logout tokens), never served."""
        from shared.metrics import start_metrics_server
        from shared.worker import Worker

        app = self.app_factory()
        provider = getattr(app.state, "provider", None)
        db, clock = app.state.db, app.state.clock
        worker = Worker(
            outbox=provider.outbox if provider is not None else None,
            purge=lambda: self.purge_expired(db, clock, keep_days=keep_days),
            clock=clock,
            purge_every=settings.worker_purge_interval,
        )
        if metrics_port is not None:
            start_metrics_server(metrics_port, host=settings.metrics_host)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        try:
            worker.run(stop)
        finally:
            db.dispose()

    def _serve_metrics(self, settings: Any) -> None:
        """The internal metrics port, served by this (the supervising) process:
        with several workers, it adds up their values (multiprocess mode)."""
        from shared.db import Database
        from shared.metrics import start_metrics_server

        extra = []
        if self.provider_tables:
            from shared.oauth.provider.logout_outbox import OutboxDepth

            extra.append(OutboxDepth(Database(settings.database_url, pool_size=1), _resolve(self.provider_tables).logout_outbox))
        start_metrics_server(settings.metrics_port, host=settings.metrics_host, extra=extra)


def _multiprocess_metrics(workers: int) -> str | None:
    """With several uvicorn workers, prometheus_client's multiprocess mode:
    each worker writes its values under PROMETHEUS_MULTIPROC_DIR and a scrape
    adds them up. The variable must be set before the workers import
    prometheus_client. An operator's own directory is used as it is (the
    operator empties it between runs); otherwise a new one, removed at exit."""
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
