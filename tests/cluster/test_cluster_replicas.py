"""The chain as a cluster (issue 16), over real HTTP: two replicas of
gdzwfw_idp and of hrss_isso (separate uvicorn processes) on one PostgreSQL
database each, and Redis when ``TEST_REDIS_URL`` is set, each pair behind a
round-robin proxy that sends every request to the other replica; the refund
portal and a ``manage worker`` per provider beside them.

The tests run in order on one cluster (``make test-cluster``): the
concurrent start, logins that cross replicas, the lockout counted across
them, a logout after key rotation, a logout while its receiver is down,
and last the crash of a replica mid-login.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

import httpx
import pytest

from devtools.stack import PATHS, PROVIDERS, ROOT, SERVICES, StackConfig, database_urls, drop_databases
from tests.chain_helpers import gdzwfw_logout, login_at_gdzwfw, portal_login
from tests.cluster_support import Forwarded, Replica, RoundRobinProxy, manage
from tests.conftest import TEST_DATABASE_URL
from tests.redis_run import stack_redis

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cluster,
    pytest.mark.skipif(
        not TEST_DATABASE_URL, reason="replicas share one PostgreSQL database: set TEST_DATABASE_URL (make test-cluster does)"
    ),
]

L2_USCC = "91440104MA5DL2B24P"  # demo_l2's unit
# How long a provider process keeps its parsed signing keys (shared.oauth.provider.keys).
KEY_CACHE_SECONDS = 10
# Paths a relying party or provider calls itself, never the browser.
MACHINE_PATHS = (
    "/.well-known/openid-configuration",
    "/par",
    "/token",
    "/introspect",
    "/jwks.json",
    "/jwks",
    "/userinfo",
    "/backchannel-logout",
)


@dataclass
class Cluster:
    proxies: dict[str, RoundRobinProxy]  # one per service; the portal's has one replica
    replicas: dict[str, list[Replica]]
    workers: list[Replica]
    envs: dict[str, dict[str, str]]

    def url(self, service: str) -> str:
        return self.proxies[service].url

    def base(self, service: str) -> str:
        return self.url(service) + PATHS[service]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    logs = ROOT / "test-artifacts" / "cluster"  # kept after the run, to read when a test failed
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    proxies = {name: RoundRobinProxy([]) for name in SERVICES}
    # Every public URL is the proxy's: the services call each other through it too.
    config = StackConfig(
        database_urls=database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp, suffix=f"_cluster{os.getpid()}"),
        ports={name: proxy.port for name, proxy in proxies.items()},
        work_dir=tmp,
        **stack_redis("cluster"),
    )
    envs = config.environments()
    replicas = {name: [Replica(name, f"{name}-{i}", envs[name], logs) for i in range(2 if name in PROVIDERS else 1)] for name in SERVICES}
    workers = [Replica(name, f"{name}-worker", envs[name], logs) for name in PROVIDERS]
    for name, proxy in proxies.items():
        proxy.backends.extend(r.url for r in replicas[name])
        proxy.start()
    everyone = [r for group in replicas.values() for r in group]
    try:
        # All at once on empty databases, each migrating first as its container does.
        for replica in everyone:
            replica.start(migrate=True)
        for replica in everyone:
            replica.wait_ready()
        for worker in workers:
            worker.start(worker=True)
        yield Cluster(proxies=proxies, replicas=replicas, workers=workers, envs=envs)
    finally:
        for process in [*everyone, *workers]:
            process.kill()
        for proxy in proxies.values():
            proxy.stop()
        drop_databases(config.database_urls)


# Each request crosses several processes of a loaded machine (a logout: two
# back-channel hops, each fetching a key set through a proxy): wait long enough.
TIMEOUT = 30


def _browser() -> httpx.Client:
    return httpx.Client(follow_redirects=True, timeout=TIMEOUT)


def _backends(forwarded: list[Forwarded]) -> set[str]:
    return {f.backend for f in forwarded}


def _jwks_kids(base: str) -> set[str]:
    jwks_uri = httpx.get(f"{base}/.well-known/openid-configuration", timeout=TIMEOUT).json()["jwks_uri"]
    return {key["kid"] for key in httpx.get(jwks_uri, timeout=TIMEOUT).json()["keys"]}


def _logout_token_kids(forwarded: list[Forwarded], path: str) -> list[tuple[str, int]]:
    """The ``kid`` of each back-channel logout token posted to ``path``, with the answer."""
    found = []
    for f in forwarded:
        if f.method == "POST" and f.path == path:
            token = parse_qs(f.body.decode())["logout_token"][0]
            header = token.split(".")[0]
            found.append((json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"], f.status))
    return found


def _until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``condition`` held (polled), or fail naming ``what``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout} s"
        time.sleep(0.25)
    return time.monotonic() - started


def _notices_to_portal(proxy: RoundRobinProxy, mark: int) -> list[int]:
    """The answers to the back-channel logout notices the portal was sent since ``mark``."""
    return [f.status for f in proxy.since(mark) if f.path == "/auth/backchannel-logout"]


def _isso_logged_in(browser: httpx.Client, cluster: Cluster) -> bool:
    return browser.get(f"{cluster.base('hrss_isso')}/").url.path == f"{PATHS['hrss_isso']}/"


def _portal_logged_in(browser: httpx.Client, cluster: Cluster) -> bool:
    return L2_USCC in browser.get(f"{cluster.url('refund_portal')}/").text


def test_replicas_started_at_once_on_empty_databases_all_come_up(cluster: Cluster) -> None:
    # The fixture started the five at once, each migrating its empty database first.
    for group in cluster.replicas.values():
        for replica in group:
            log = replica.log.read_text()
            assert "Traceback" not in log and "UniqueViolation" not in log, log[-3000:]
            assert httpx.get(f"{replica.url}/readyz", timeout=TIMEOUT).json()["status"] == "ok"
    # One signing key each, written by the first replica in; the other found it.
    assert len(_jwks_kids(cluster.url("gdzwfw_idp"))) == 1
    assert len(_jwks_kids(cluster.base("hrss_isso"))) == 1


def test_a_federated_login_whose_steps_alternate_replicas_completes(cluster: Cluster) -> None:
    marks = {name: len(proxy.forwarded) for name, proxy in cluster.proxies.items()}
    with _browser() as browser:
        page = portal_login(browser, cluster.url("refund_portal"), "demo_l2")
        assert page.status_code == 200 and L2_USCC in page.text and "稳岗返还信息确认" in page.text
    for name in PROVIDERS:
        steps = cluster.proxies[name].since(marks[name])
        # The browser's own steps: server-to-server calls (discovery, PAR, token,
        # the client's jwks_uri) are nested inside them, so the proxy records
        # them out of the order it handed them out in.
        browsed = [f for f in steps if not f.path.endswith(MACHINE_PATHS)]
        # The login moved between the replicas mid-flow, and every replica took part.
        assert any(a.backend != b.backend for a, b in zip(browsed, browsed[1:], strict=False)), browsed
        assert _backends(steps) == {r.url for r in cluster.replicas[name]}


def test_lockout_is_counted_across_replicas(cluster: Cluster) -> None:
    idp = cluster.proxies["gdzwfw_idp"]
    with _browser() as browser:
        isso_login = browser.get(f"{cluster.url('refund_portal')}/login")
        start = re.search(r'id="gdzwfw-login" href="([^"]+)"', isso_login.text).group(1)
        page = browser.get(str(isso_login.url.join(start)))
        mark = len(idp.forwarded)
        messages = []
        for _ in range(5):
            page = login_at_gdzwfw(browser, page, "demo_l3", "Wrong@pass2026")
            messages.append(re.search(r"账号或密码错误，您还可以尝试\d次|密码错误次数过多，账号已被锁定", page.text).group(0))
        posts = [f for f in idp.since(mark) if f.method == "POST"]
        assert _backends(posts) == {r.url for r in cluster.replicas["gdzwfw_idp"]}
        # Five failures on two replicas add up to the one limit of five.
        assert messages == [f"账号或密码错误，您还可以尝试{n}次" for n in (4, 3, 2, 1)] + ["密码错误次数过多，账号已被锁定"]
        right = login_at_gdzwfw(browser, page, "demo_l3")  # on whichever replica: still locked
        assert "账号已被锁定" in right.text and right.url.path == "/login"


def test_after_key_rotation_a_logout_at_gdzwfw_ends_the_isso_and_portal_sessions(cluster: Cluster) -> None:
    with _browser() as browser:
        assert L2_USCC in portal_login(browser, cluster.url("refund_portal"), "demo_l2").text
        bases = {name: cluster.base(name) for name in PROVIDERS}
        old = {name: _jwks_kids(base) for name, base in bases.items()}
        # The operator rotates on one replica (any one: the keys are in the database).
        for name in PROVIDERS:
            done = manage(name, cluster.envs[name], "rotate-keys")
            assert done.returncode == 0, done.stderr
        time.sleep(KEY_CACHE_SECONDS + 1)  # every replica now publishes and signs with the new key
        new = {name: _jwks_kids(base) - old[name] for name, base in bases.items()}
        assert all(len(kids) == 1 for kids in new.values()), new

        marks = {name: len(proxy.forwarded) for name, proxy in cluster.proxies.items()}
        gdzwfw_logout(browser, cluster.url("gdzwfw_idp"))
        # At once, or after the worker's retry when an attempt timed out on a loaded machine.
        _until(lambda: not _portal_logged_in(browser, cluster), 40, "the portal's session ending")
        assert not _isso_logged_in(browser, cluster)
    # Both relying parties accepted tokens under keys they had not seen before, and only such.
    hops = (
        ("hrss_isso", f"{PATHS['hrss_isso']}/backchannel-logout", "gdzwfw_idp"),
        ("refund_portal", "/auth/backchannel-logout", "hrss_isso"),
    )
    for receiver, path, issuer in hops:
        notices = _logout_token_kids(cluster.proxies[receiver].since(marks[receiver]), path)
        assert {kid for kid, _ in notices} == new[issuer] and 200 in {status for _, status in notices}, notices


def test_a_notice_to_a_receiver_that_was_down_is_delivered_when_it_returns(cluster: Cluster) -> None:
    [portal] = cluster.replicas["refund_portal"]
    portal_proxy = cluster.proxies["refund_portal"]
    with _browser() as browser:
        assert L2_USCC in portal_login(browser, cluster.url("refund_portal"), "demo_l2").text
        portal.kill()
        mark = len(portal_proxy.forwarded)
        gdzwfw_logout(browser, cluster.url("gdzwfw_idp"))
        _until(lambda: not _isso_logged_in(browser, cluster), 40, "the ISSO's session ending")
        # The ISSO's attempt right after its logout (or its worker's) found no portal.
        _until(lambda: _notices_to_portal(portal_proxy, mark) == [502], 10, "the first attempt")
        portal.start()
        portal.wait_ready()
        # Its session outlived the restart (it is in the database or Redis) until
        # the ISSO's worker delivers the notice again (first retry after 10 s).
        waited = _until(lambda: not _portal_logged_in(browser, cluster), 40, "the retried notice")
    delivered = _notices_to_portal(portal_proxy, mark)
    assert delivered[0] == 502 and delivered[-1] == 200, delivered
    worker = next(w for w in cluster.workers if w.service == "hrss_isso")
    metrics = httpx.get(f"{worker.url}/metrics", timeout=TIMEOUT).text
    assert re.search(r'backchannel_logout_deliveries_total\{attempt="retry",outcome="delivered"\} [1-9]', metrics), waited


def test_a_replica_killed_mid_login_leaves_the_flow_to_the_other(cluster: Cluster) -> None:
    with _browser() as browser:
        isso_login = browser.get(f"{cluster.url('refund_portal')}/login")
        start = re.search(r'id="gdzwfw-login" href="([^"]+)"', isso_login.text).group(1)
        page = browser.get(str(isso_login.url.join(start)))
        # The login page is shown; now one replica of each provider crashes.
        crashed = [cluster.replicas[name][0] for name in PROVIDERS]
        for replica in crashed:
            replica.kill(signal.SIGKILL)
        marks = {name: len(cluster.proxies[name].forwarded) for name in PROVIDERS}
        done = login_at_gdzwfw(browser, page, "demo_l2")
        assert done.status_code == 200 and L2_USCC in done.text, done.text[:500]
    for replica in crashed:
        served = _backends(cluster.proxies[replica.service].since(marks[replica.service]))
        assert served == {cluster.replicas[replica.service][1].url}


def test_nothing_is_left_in_the_outboxes(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """Every notice of these tests was delivered; what a scrape of each
    provider's worker shows (printed: the figures for the operator's note)."""
    wanted = ("backchannel_logout_deliveries_total{", "backchannel_logout_given_up_total{", "backchannel_logout_outbox_depth")
    # The outbox depth is counted at scrape time by the service (the worker counts only its own sends).
    for process in [cluster.replicas[name][1] for name in PROVIDERS] + cluster.workers:
        scrape = httpx.get(f"{process.url}/metrics", timeout=TIMEOUT).text
        lines = [line for line in scrape.splitlines() if line.startswith(wanted)]
        if process.label.endswith("-1"):
            assert "backchannel_logout_outbox_depth 0.0" in lines, lines
        with capsys.disabled():
            print(f"\n{process.label} /metrics:\n  " + "\n  ".join(lines))
