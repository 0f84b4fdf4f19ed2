"""This test run's place in Redis (``TEST_REDIS_URL``), see tests/conftest.py.

A module of its own, not conftest.py: pytest imports conftest.py under a
second name too, and the run's prefix must be one value for the whole run.
"""

from __future__ import annotations

import os
import secrets

__all__ = ["TEST_REDIS_URL", "REDIS_RUN", "REDIS_KEY_PREFIX", "service_prefix", "redis_settings", "stack_redis"]

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
REDIS_RUN = f"test-{os.getpid()}-{secrets.token_hex(3)}"
REDIS_KEY_PREFIX = f"{REDIS_RUN}:"


def service_prefix(service: str) -> str:
    """A service's keys, emptied with its database (``fresh_database``)."""
    return f"{REDIS_KEY_PREFIX}{service}:"


# A unit test's Redis call, and the connection each new app opens first, may
# wait behind the rest of a loaded CI machine (PostgreSQL, the test client's
# own loop thread): the production 0.5 s budgets then turned a passing
# request into 503 now and then. Tests of the budgets pass their own values.
TEST_REDIS_TIMEOUT = "5"


def redis_settings(service: str) -> dict[str, str]:
    """What the service fixtures add to their settings: Redis in the Redis run."""
    if not TEST_REDIS_URL:
        return {}
    return {
        "redis_url": TEST_REDIS_URL,
        "redis_key_prefix": service_prefix(service),
        "redis_socket_timeout": TEST_REDIS_TIMEOUT,
        "redis_connect_timeout": TEST_REDIS_TIMEOUT,
    }


def stack_redis(tag: str) -> dict[str, str | None]:
    """The same for a started stack (``StackConfig``): a prefix of its own,
    never emptied between tests (its services outlive them)."""
    return {"redis_url": TEST_REDIS_URL, "redis_key_prefix": f"{REDIS_RUN}-{tag}:"}
