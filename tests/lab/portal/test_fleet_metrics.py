"""Metrics for a fleet: two routers (two labs, each with the real hotspotd) and Debian's real
Prometheus scraping both portals' /metrics with the bearer token. What a PromQL query over both
returns is each router's `hotspotctl clients --json`, to the byte; what the real hotspotd serves, and
the metrics textfile it writes, pass `promtool check metrics`."""

from __future__ import annotations

import contextlib
import stat
import time
from pathlib import Path

import pytest

from lab import Lab
from lab.forward import Forward
from lab.hotspotd import Hotspotd
from lab.prometheus import Prometheus
from tests.lab.conftest import register
from tests.promtool import promtool_check, samples
from tests.unit.metrics.test_dashboard import VARIABLE, dashboard_queries

TOKEN = "fleet-metrics-token-0123456789"
MB = 1_000_000
# router -> its clients and what each moves: (bytes down, bytes up) asked of iperf3
TRAFFIC = {"bus1": {"c1": (3 * MB, 0), "c2": (0, 1 * MB)}, "bus2": {"c1": (2 * MB, 512_000)}}


def _stable_clients(d: Hotspotd) -> dict[str, dict]:
    """`hotspotctl clients --json` once two answers a few polls apart agree (the traffic is over and
    hotspotd has read the last of it from the kernel)."""
    def same():
        before = d.clients()
        d.wait_polls(3)
        after = d.clients()
        return after if _bytes(before) == _bytes(after) else None
    return d.lab.wait_for(same, 30, "the clients' bytes to settle")


def _bytes(clients: dict[str, dict]) -> dict[str, tuple[int, int]]:
    return {mac: (c["bytes_up"], c["bytes_down"]) for mac, c in clients.items()}


@pytest.fixture(scope="module")
def fleet():
    """Two routers with traffic done: name -> (lab, hotspotd, its settled clients)."""
    with contextlib.ExitStack() as stack:
        routers = {}
        for name, traffic in TRAFFIC.items():
            lab = stack.enter_context(Lab(clients=tuple(traffic)))
            # bus2 also writes the textfile node-exporter's collector would read, every second
            textfile = {"metrics_textfile": str(Path(lab.dir) / "prometheus" / "hotspot.prom"),
                        "metrics_textfile_interval": 1} if name == "bus2" else {}
            d = Hotspotd(lab, metrics_token=TOKEN, plan_quota=10_000 * MB, **textfile).start()
            stack.callback(d.stop)
            register(lab, d, *traffic)
            for client, (down, up) in traffic.items():
                if down:
                    lab.iperf(client, bytes=down, reverse=True)
                if up:
                    lab.iperf(client, bytes=up)
            d.wait_portal()
            routers[name] = [lab, d, None]
        for r in routers.values():
            r[2] = _stable_clients(r[1])
        yield {name: tuple(r) for name, r in routers.items()}


@pytest.fixture(scope="module")
def prometheus(fleet):
    """Debian's Prometheus on loopback, scraping both routers' portals (through a relay in each lab's c1)
    every second, once every target has been scraped after the traffic settled."""
    with contextlib.ExitStack() as stack:
        targets = {}
        for name, (lab, d, _) in fleet.items():
            f = Forward(lab.clients["c1"].ns, 0, lab.router4, d.config.portal_port)
            stack.callback(f.close)
            targets[name] = f.url.removeprefix("http://")
        settled = time.time()
        prom = Prometheus(targets, TOKEN)
        stack.callback(prom.close)
        try:
            Lab.wait_for(lambda: prom.scraped_since(settled), 30, "Prometheus to scrape both routers")
        except TimeoutError as e:
            raise TimeoutError(f"{e}: {prom.api('targets')['activeTargets']}") from None
        yield prom


def test_the_real_hotspotd_serves_what_promtool_accepts(fleet):
    lab, d, clients = fleet["bus1"]
    text = lab.curl("c2", d.portal("/metrics"), "-H", f"Authorization: Bearer {TOKEN}").stdout
    promtool_check(text)
    series = samples(text)
    for name, c in lab.clients.items():
        assert series[f'hotspot_client_info{{mac="{c.mac}",hostname="{name}",alias=""}}'] == 1
        assert series[f'hotspot_client_bytes_total{{mac="{c.mac}",direction="down"}}'] == \
            clients[c.mac]["bytes_down"]
    named = [s for s in series if "hostname=" in s or "alias=" in s]
    assert named and all(s.startswith("hotspot_client_info{") for s in named), named


def test_a_query_over_the_fleet_gives_each_clients_bytes(fleet, prometheus):
    got = {}
    for row in prometheus.query('hotspot_client_bytes_total{job="hotspot"}'):
        m = row["metric"]
        got.setdefault((m["router"], m["mac"]), {})[m["direction"]] = int(row["value"][1])
    want = {(name, mac): {"up": c["bytes_up"], "down": c["bytes_down"]}
            for name, (_, _, clients) in fleet.items() for mac, c in clients.items()}
    assert got == want
    for name, (lab, _, _) in fleet.items():  # the traffic asked of iperf3 is in there (and its overhead)
        for client, (down, up) in TRAFFIC[name].items():
            bytes_ = want[(name, lab.clients[client].mac)]
            assert bytes_["down"] >= down and bytes_["up"] >= up

    totals = {(r["metric"]["router"], r["metric"]["mac"]): int(r["value"][1])
              for r in prometheus.query("sum by (router, mac) (hotspot_client_bytes_total)")}
    assert totals == {(name, mac): c["bytes_total"]
                      for name, (_, _, clients) in fleet.items() for mac, c in clients.items()}

    named = prometheus.query('sum by (router, hostname) (hotspot_client_bytes_total * on (router, mac) '
                             'group_left (hostname) hotspot_client_info)')
    assert {(r["metric"]["router"], r["metric"]["hostname"]): int(r["value"][1]) for r in named} == {
        (name, c["hostname"]): c["bytes_total"] for name, (_, _, clients) in fleet.items()
        for c in clients.values()}

    for _, d, clients in fleet.values():  # nothing moved while Prometheus scraped
        assert _bytes(d.clients()) == _bytes(clients)


def test_the_metrics_textfile_holds_the_same_figures(fleet):
    lab, d, clients = fleet["bus2"]
    path = Path(d.config.metrics_textfile)
    settled = time.time()
    lab.wait_for(lambda: path.exists() and path.stat().st_mtime > settled + 0.5, 10,
                 "hotspotd to write the textfile after the traffic settled")
    st = path.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == 0
    text = path.read_text()
    promtool_check(text)
    series = samples(text)
    for mac, c in clients.items():
        for direction in ("up", "down"):
            assert series[f'hotspot_client_bytes_total{{mac="{mac}",direction="{direction}"}}'] == \
                c[f"bytes_{direction}"]
        assert series[f'hotspot_client_info{{mac="{mac}",hostname="{c["hostname"]}",alias=""}}'] == 1


def test_each_query_of_the_dashboard_returns_series(fleet, prometheus):
    """What docs/grafana/hotspot-fleet.json asks, as Grafana asks it with every router chosen."""
    routers = Lab.wait_for(lambda: prometheus.api("label/router/values", **{"match[]": "hotspot_clients"}),
                           10, "the router variable's values")
    assert sorted(routers) == sorted(fleet)  # what label_values(hotspot_clients, router) gives Grafana
    assert VARIABLE == "label_values(hotspot_clients, router)"
    for title, query in dashboard_queries().items():
        promql = query.replace("$router", ".*").replace("$__rate_interval", "30s")
        # rate() and increase() need two scrapes in their window: Prometheus scrapes every second
        rows = Lab.wait_for(lambda q=promql: prometheus.query(q), 15, f"{title!r}: {promql} to return series")
        assert {r["metric"].get("router") for r in rows} == set(fleet), (title, rows)
    top = prometheus.query(dashboard_queries()["Top clients this period"].replace("$router", ".*"))
    assert {(r["metric"]["router"], r["metric"]["hostname"]): int(r["value"][1]) for r in top} == {
        (name, c["hostname"]): c["bytes_total"] for name, (_, _, clients) in fleet.items()
        for c in clients.values()}
