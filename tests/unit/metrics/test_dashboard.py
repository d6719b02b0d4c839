"""The fleet's Grafana dashboard (docs/grafana/hotspot-fleet.json): its queries are the ones
docs/fleet-metrics.md lists, and every metric they name is one /metrics serves. (The lab test runs
them against a real Prometheus: tests/lab/portal/test_fleet_metrics.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hotspot.metrics.exposition import render
from tests.portal_fake import FakeBackend

DOCS = Path(__file__).resolve().parents[3] / "docs"
DASHBOARD = DOCS / "grafana" / "hotspot-fleet.json"
VARIABLE = "label_values(hotspot_clients, router)"


def dashboard_queries() -> dict[str, str]:
    """Each panel's title -> its one PromQL query, as Grafana would send it with $router and
    $__rate_interval left in."""
    board = json.loads(DASHBOARD.read_text())
    found = {}
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        (target,) = panel["targets"]
        found[panel["title"]] = target["expr"]
    return found


def test_the_docs_list_the_dashboards_queries():
    listed = dict(re.findall(r"^- ([^:`\n]+): `([^`]+)`$", (DOCS / "fleet-metrics.md").read_text(), re.M))
    assert listed == dashboard_queries()
    board = json.loads(DASHBOARD.read_text())
    (variable,) = board["templating"]["list"]
    assert variable["name"] == "router" and variable["definition"] == VARIABLE
    assert f"`{VARIABLE}`" in (DOCS / "fleet-metrics.md").read_text()


def test_the_dashboard_covers_routers_plans_clients_and_alerts():
    board = json.loads(DASHBOARD.read_text())
    assert [p["title"] for p in board["panels"] if p["type"] == "row"] == ["Routers", "Plans", "Clients",
                                                                          "Alerts"]
    for title, query in dashboard_queries().items():
        assert 'router=~"$router"' in query, title  # every panel follows the router variable


def test_every_metric_it_names_is_served():
    b = FakeBackend(metrics_token="t" * 16)
    served = set(re.findall(r"^# TYPE (\S+) ", render(b.metrics(token="t" * 16)), re.M)) | {"up"}
    named = {name for q in [*dashboard_queries().values(), VARIABLE]
             for name in re.findall(r"\b(hotspot_[a-z_]+|up)\b(?=\s*[{\[),])", q)}
    assert named and named <= served, named - served
    assert {"hotspot_client_bytes_total", "hotspot_client_info", "hotspot_plan_bytes_allowed",
            "hotspot_alerts_fired_total"} <= named
