"""The three services as real uvicorn processes on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.stack import SERVICES, Stack, StackConfig, database_urls, drop_databases, free_port
from tests.conftest import TEST_DATABASE_URL
from tests.redis_run import stack_redis

CACHE_SECONDS = 1


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    tmp = tmp_path_factory.mktemp("stack")
    config = StackConfig(
        database_urls=database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp, suffix=f"_it{os.getpid()}"),
        ports={name: free_port() for name in SERVICES},
        extra_env={
            "refund_portal": {"REFUND_INTROSPECTION_CACHE_SECONDS": str(CACHE_SECONDS)},
            # Every DPoP proof at gdzwfw_idp must carry its nonce (RFC 9449 §8): the ISSO's relying party retries for it.
            "gdzwfw_idp": {"GDZWFW_DPOP_NONCE_REQUIRED": "true"},
        },
        work_dir=tmp,
        **stack_redis("it"),
    )
    running = Stack(config, log_dir=tmp)
    running.migrate()
    try:
        running.start()
        yield config
    finally:
        running.stop()
        drop_databases(config.database_urls)


# demo-rp is registered at hrss_isso for the refund API's scopes (development).
