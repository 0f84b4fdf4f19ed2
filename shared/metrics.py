"""Prometheus metrics of every service (prometheus_client).

The families are process globals, as prometheus_client intends: a process
serves one service, and Prometheus names it by the scrape target's ``job``
and ``instance`` labels, so no ``service`` label is added here. Labels are
bounded: a route *template* (``/authorize``, never a raw path with ids in
it), a known HTTP method, a status code, a login method of the code, a
grant type Authlib accepted.

With several uvicorn workers (``manage serve --workers N``) each worker is a
process of its own: ``manage serve`` then points ``PROMETHEUS_MULTIPROC_DIR``
at an empty directory before the workers start, prometheus_client writes
each worker's values there, and a scrape adds them up (its multiprocess
mode). Values read at scrape time (the outbox depth) come from collectors
that run in the scraping process: :func:`exposition`'s ``extra``.

Exposure (README § Operations): outside production each service answers
``/metrics`` on its own port; in production only ``*_METRICS_PORT`` serves
it, a second small HTTP server bound to the internal interface that
``manage serve`` starts (:func:`start_metrics_server`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = [
    "CONTENT_TYPE_LATEST",
    "HTTP_REQUESTS",
    "HTTP_LATENCY",
    "LOGINS",
    "TOKENS_ISSUED",
    "INTROSPECTIONS",
    "LOGOUT_DELIVERIES",
    "LOGOUT_GIVEN_UP",
    "LEVEL_CHANGES",
    "PASSWORD_VERIFY",
    "observe_request",
    "labelled",
    "record_login",
    "count_on_commit",
    "exposition",
    "start_metrics_server",
]

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route template, method and status.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by route template and method.", ["route", "method"]
)
LOGINS = Counter("logins_total", "Login attempts, by method and outcome (success, failure).", ["method", "outcome"])
TOKENS_ISSUED = Counter("oauth_tokens_issued_total", "Tokens issued by the token endpoint, by grant type.", ["grant_type"])
INTROSPECTIONS = Counter("oauth_introspections_total", "Introspection answers (RFC 7662), by whether the token was active.", ["active"])
LOGOUT_DELIVERIES = Counter(
    "backchannel_logout_deliveries_total",
    "Back-channel logout delivery attempts, by attempt (first: right after the logout; retry: from the outbox) and outcome.",
    ["attempt", "outcome"],
)
LOGOUT_GIVEN_UP = Counter(
    "backchannel_logout_given_up_total", "Back-channel logout notices dropped (too old, or refused by the client).", ["reason"]
)
LEVEL_CHANGES = Counter(
    "trust_level_changes_total", "Trust-level changes written to the audit log, by new level and method.", ["to_level", "method"]
)
# argon2id is most of a password login's time and CPU (about 20 ms per
# verify at OWASP's parameters): what a login capacity plan is made from, and
# what the bench subtracts to compare the rest of the login flow.
PASSWORD_VERIFY = Histogram(
    "password_verify_duration_seconds",
    "Time of one argon2id password verification (against a dummy hash for an unknown account).",
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0),
)

# A client may send any token as the method; an unknown one is counted as OTHER.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# Labelled children by (family, label values). labels() checks its values and
# takes a lock on every call: a sixth of a token grant's access-log cost. The
# values callers pass are bounded (see above), so this dict is too.
_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def labelled(family: Any, *values: str) -> Any:
    """``family.labels(*values)``, made once per set of values (for the
    per-request paths; elsewhere ``labels()`` is as good)."""
    child = _children.get((family, values))
    if child is None:
        child = _children[(family, values)] = family.labels(*values)
    return child


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One answered request (called by the access log, for both lanes)."""
    method = method if method in _METHODS else "OTHER"
    labelled(HTTP_REQUESTS, route, method, str(status)).inc()
    labelled(HTTP_LATENCY, route, method).observe(seconds)


def record_login(method: str, outcome: str) -> None:
    """Every service's login code paths count through here: ``method`` is one
    of the code's own names (password, certificate, licence, federated…),
    never user input; ``outcome`` is ``success`` or ``failure``."""
    LOGINS.labels(method, outcome).inc()


def count_on_commit(session: Session, count: Callable[[], None]) -> None:
    """Count something written in ``session`` only once its transaction
    commits (a rolled-back change did not happen)."""
    event.listen(session, "after_commit", lambda _session: count(), once=True)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker's values are in the directory; a fresh registry per
        # scrape is how prometheus_client's multiprocess mode reads them.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text exposition format: the process's (or every worker's) families,
    then those of ``extra``, collected now."""
    text = generate_latest(_registry())
    collectors = list(extra)
    if collectors:
        own = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            own.register(collector)
        text += generate_latest(own)
    return text


def start_metrics_server(port: int, *, host: str, extra: Iterable[Collector] = ()) -> None:
    """Serve :func:`exposition` on ``host:port`` from a daemon thread
    (prometheus_client's own small server): the internal port of production.
    Started by ``manage serve`` in the process that supervises the workers."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Combined(list(extra)))
    start_http_server(port, addr=host, registry=registry)


class _Combined(Collector):
    """The process's (or the workers') families and ``extra`` as one collector."""

    def __init__(self, extra: list[Collector]) -> None:
        self.extra = extra

    def collect(self):
        yield from _registry().collect()
        for collector in self.extra:
            yield from collector.collect()
