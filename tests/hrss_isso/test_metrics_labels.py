"""The ISSO's request metrics name every route by its full path template,
/isso included: its own pages, the provider's browser endpoints (mounted
below /isso) and its machine endpoints alike, so a dashboard's query for
/isso/… finds them all."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.hrss_isso.conftest import Isso


def routes_counted(isso: Isso) -> dict[str, float]:
    """Requests so far by route, whatever their method and status."""
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(isso.client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "http_requests_total":
                counted[sample.labels["route"]] = counted.get(sample.labels["route"], 0) + sample.value
    return counted


def test_every_route_is_labelled_with_its_full_path(isso: Isso) -> None:
    # Counters are process-wide (gdzwfw_idp's tests count /authorize too): compare two scrapes.
    before = routes_counted(isso)
    browser = isso.new_browser()
    browser.get("/isso/login")  # the ISSO's own page
    browser.get("/isso/logout")  # the provider's, mounted below /isso
    browser.post("/isso/authorize/decline", data={"csrf_token": "forged", "interaction": "x"})
    isso.client.get("/isso/.well-known/openid-configuration")  # the fast lane
    after = routes_counted(isso)
    counted = sorted(route for route, n in after.items() if n > before.get(route, 0))
    assert counted == [
        "/isso/.well-known/openid-configuration",
        "/isso/authorize/decline",
        "/isso/login",
        "/isso/logout",
        "/metrics",
    ]
