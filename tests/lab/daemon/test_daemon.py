"""hotspotd refuses what would make it count wrong, and says how to fix it."""

from __future__ import annotations

from lab.hotspotd import Hotspotd

FIREWALL = """
config defaults
	option input 'REJECT'
	option flow_offloading '1'
"""


def test_refuses_to_run_with_flow_offloading(lab, tmp_path, monkeypatch):
    """This kernel has no flowtables (CONFIG_NF_FLOW_TABLE), so the fw4 config is what turns it on here;
    the check of the kernel's `flow add` rules is unit-tested on fw4's JSON
    (tests/unit/kernel/test_offload.py)."""
    firewall = tmp_path / "firewall"
    firewall.write_text(FIREWALL)
    monkeypatch.setenv("HOTSPOT_FIREWALL_CONFIG", str(firewall))
    d = Hotspotd(lab)
    d.start(wait=False)
    assert d.proc.wait(10) == 1
    log = d.log()
    assert "flow offloading is on" in log and "flow_offloading=0" in log
    assert f"{firewall}: option flow_offloading '1'" in log
    assert "hotspot" not in lab.run(lab.router, "nft", "list", "tables").stdout


def test_bad_config_is_reported_with_file_and_line(lab):
    d = Hotspotd(lab)
    d.config_path.write_text(d.config_path.read_text() + "\toption poll_interval 'soon'\n")
    d.start(wait=False)
    assert d.proc.wait(10) == 2
    lines = [ln for ln in d.log().splitlines() if "error" in ln.lower()]
    assert len(lines) == 1 and f"{d.config_path}:" in lines[0] and "poll_interval" in lines[0]


def test_logs_are_one_line_per_event_without_timestamps(lab):
    d = Hotspotd(lab).start()
    lab.ping("c1", lab.server4)
    d.wait_client(lab.clients["c1"].mac)
    assert d.stop() == 0
    lines = d.log().splitlines()
    prefixes = ("hotspotd[", "hotspot-portal[", "hotspot-dnssnoop[")
    assert lines and all(ln.startswith(prefixes) for ln in lines), lines
    assert any("new client" in ln for ln in lines) and "committed" in lines[-1]
