"""The internal metrics port of production (``*_METRICS_PORT``, started by ``manage serve``)."""

from __future__ import annotations

import httpx
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from devtools.stack import free_port
from shared.metrics import record_login, start_metrics_server


class _Depth(Collector):
    def collect(self):
        yield GaugeMetricFamily("backchannel_logout_outbox_depth", "test", value=7)


def test_the_metrics_port_serves_the_process_families_and_the_scrape_time_collectors() -> None:
    port = free_port()
    record_login("password", "success")
    start_metrics_server(port, host="127.0.0.1", extra=[_Depth()])
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'logins_total{method="password",outcome="success"}' in text
    assert "backchannel_logout_outbox_depth 7.0" in text
