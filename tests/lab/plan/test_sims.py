"""A plan per SIM with real traffic: ModemManager (a D-Bus mock on a private bus) says which SIM is in
the modem; an eSIM profile switch and a SIM swap bring that SIM's plan in force, the guard in the kernel
follows it, and the bytes of each stay with its plan. Roaming begun and ended reaches a real webhook
receiver and SMTP server, once each."""

from __future__ import annotations

from pathlib import Path

import dbus

from hotspot.plan.model import Threshold
from tests.lab.alerts.test_alerts import RECEIVER, SMTP, _lines, _serve
from tests.lab.conftest import register
from tests.modem_mock import MAIN_OBJ, MODEM_3GPP, SIM

FIRST = "8988211000000123456"  # the mock's default
ESIM, OTHER = "89860012345678901238", "8944110000000000016"
MB = 1_000_000
WEBHOOK_PORT, SMTP_PORT = 18081, 18026


def _plans(d) -> dict[str, dict]:
    return {p["iccid"]: p for p in d.json("plan", "list")}


def test_a_profile_switch_and_a_sim_swap_move_the_guard_and_the_counts(lab, modem):
    from lab.hotspotd import Hotspotd

    bus, mm, path = modem
    hooks = Path(lab.dir) / "sim-hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    d = Hotspotd(lab, plan_quota=100 * MB, plan_block_at=Threshold(bytes=50 * MB), alert_clients=False,
                 alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
    d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "30"}
    d.start()
    try:
        register(lab, d, "c1")
        lab.wait_for(lambda: d.json("plan")["sim"] == FIRST, 10, "the first SIM's plan")
        lab.iperf("c1", bytes=6 * MB, reverse=True)
        d.wait_polls()
        first_used = d.json("plan")["used"]
        assert first_used >= 6 * MB

        # another eSIM profile enabled: ModemManager's SIM object says another ICCID; hotspotd hears the
        # signal at once (the interval read is 30 s away) and the new SIM's plan starts from zero
        mm.update(f"{MAIN_OBJ}/SIM/0", SIM, SimIdentifier=dbus.String(ESIM), OperatorName="China Mobile")
        lab.wait_for(lambda: d.json("plan")["sim"] == ESIM, 8, "the eSIM's plan in force")
        assert d.json("plan")["used"] < MB
        lab.iperf("c1", bytes=3 * MB, reverse=True)
        d.wait_polls()
        plans = _plans(d)
        assert plans[FIRST]["used"] == first_used and not plans[FIRST]["active"]
        assert 3 * MB <= plans[ESIM]["used"] < 4 * MB and plans[ESIM]["active"]

        # the eSIM's own plan: a 2 MB block point holds c1 back in the kernel at once
        assert lab.ping("c1", lab.server4)
        d.ctl("plan", "set", "--sim", ESIM, "5MB", "--block-at", "2MB")
        lab.wait_for(lambda: not lab.ping("c1", lab.server4), 8, "the eSIM plan's guard to block c1")

        # the first SIM swapped back in (ModemManager makes the modem anew): its plan, its bytes, its
        # block point 50 MB away: c1 goes on
        mm.manager.RemoveObject(path)
        mm.add_modem(1)
        lab.wait_for(lambda: d.json("plan")["sim"] == FIRST, 8, "the first SIM's plan again")
        assert lab.ping("c1", lab.server4)
        plans = _plans(d)
        assert plans[FIRST]["used"] >= first_used and plans[FIRST]["active"]
        assert 3 * MB <= plans[ESIM]["used"] < 4 * MB

        # the owner heard of each SIM once: the first took over the plan, the eSIM is new
        sims = lab.wait_for(lambda: [h["body"] for h in _lines(hooks) if h["body"].get("event") == "sim_new"]
                            if len(_lines(hooks)) >= 2 else None, 15, "the SIM alerts")
        assert [(s["iccid"], s["adopted"]) for s in sims] == [(FIRST, True), (ESIM, False)]
    finally:
        d.stop()
        web.kill()


def test_roaming_start_and_end_reach_webhook_and_email_once(lab, modem):
    from lab.hotspotd import Hotspotd

    bus, mm, path = modem
    hooks, mails = Path(lab.dir) / "roam-hooks.jsonl", Path(lab.dir) / "roam-mails.jsonl"
    web, smtp = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks), _serve(lab, SMTP, SMTP_PORT, mails)
    d = Hotspotd(lab, plan_quota=100 * MB, roaming_block_at=Threshold(bytes=5 * MB), alert_clients=False,
                 alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook", alert_email=("owner@example.com",),
                 smtp_host="localhost", smtp_port=SMTP_PORT, smtp_security="none")
    d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "0.3"}
    d.start()
    try:
        lab.wait_for(lambda: d.json("plan")["sim"] == FIRST, 10, "the SIM's plan")
        mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(5))
        lab.wait_for(lambda: d.json("plan")["roaming"], 5, "hotspotd to see the roaming")
        d.wait_polls(3)
        mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(1))
        lab.wait_for(lambda: not d.json("plan")["roaming"], 5, "hotspotd to see it is home")

        def roaming(lines):
            return [x for x in lines if "Roaming" in x]
        got = lab.wait_for(lambda: len([h for h in _lines(hooks) if h["body"].get("event", "").startswith(
            "roaming")]) == 2 and len(roaming([m["data"] for m in _lines(mails)])) == 2, 20, "both alerts")
        assert got
        d.wait_polls(3)
        events = [h["body"] for h in _lines(hooks) if h["body"].get("event", "").startswith("roaming")]
        assert [e["event"] for e in events] == ["roaming_start", "roaming_end"]
        assert events[0]["limits"]["block"] == 5 * MB and "block at 5" in events[0]["text"]
        assert len(roaming([m["data"] for m in _lines(mails)])) == 2
    finally:
        d.stop()
        web.kill()
        smtp.kill()


def test_set_used_takes_the_carriers_figure_and_counts_on_from_it(lab, start_hotspotd):
    d = start_hotspotd(plan_quota=2_000 * MB)
    register(lab, d, "c1")
    lab.iperf("c1", bytes=4 * MB, reverse=True)
    d.wait_polls()
    ours = d.json("plan")["used"]
    p = d.json("plan", "set-used", "1GB")
    assert 1_000 * MB <= p["used"] < 1_000 * MB + MB
    (c,) = p["calibrations"]
    assert c["theirs"] == 1_000 * MB and c["source"] == "owner" and abs(c["ours"] - ours) < MB
    assert c["gap"] == c["theirs"] - c["ours"]
    lab.iperf("c1", bytes=3 * MB, reverse=True)
    d.wait_polls()
    assert 1_003 * MB <= d.json("plan")["used"] < 1_005 * MB
    # bad input: a one-line error, nothing changed
    before = d.json("plan")["used"]
    for args, status, says in ((("lots",), 2, "invalid size"),
                               (("2GB", "--at", "2099-01-01 00:00"), 1, "in the future"),
                               (("2GB", "--at", "2026-01-01 00:00"), 1, "before this cycle began")):
        r = d.ctl("plan", "set-used", *args, check=False)
        assert r.returncode == status and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
    assert d.json("plan")["used"] - before < MB
