"""The operator commands every service has: migrate, rotate-keys, serve."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.migrations import upgrade_head

__all__ = ["ServiceCli"]


@dataclass
class ServiceCli:
    name: str
    settings_cls: type
    migrations: Path
    app_factory: str  # "module:function" for uvicorn --factory
    default_port: int
    key_manager: Callable[[Any], Any] | None = None

    def main(self, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(prog=f"python -m services.{self.name}.manage")
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("migrate", help="upgrade the database to the newest schema")
        if self.key_manager:
            sub.add_parser("rotate-keys", help="retire the signing key and start signing with a new one")
        serve = sub.add_parser("serve", help="run the service with uvicorn")
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--port", type=int, default=self.default_port)
        serve.add_argument("--workers", type=int, default=1)
        args = parser.parse_args(argv)
        settings = self.settings_cls()
        if args.command == "migrate":
            upgrade_head(self.migrations, settings.database_url)
            print(f"{self.name}: database at head")
        elif args.command == "rotate-keys":
            from shared.db import Database

            db = Database(settings.database_url)
            with db.transaction() as s:
                kid = self.key_manager(settings).rotate(s)
            print(f"{self.name}: now signing with key {kid}; retired keys stay in the JWKS until their tokens expire")
        elif args.command == "serve":
            import uvicorn

            uvicorn.run(
                self.app_factory,
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_config=None,
                proxy_headers=False,
            )
