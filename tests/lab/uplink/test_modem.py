"""hotspotd with a modem: ModemManager (a D-Bus mock on a private bus) tells it the operator, the SIM
and roaming; roaming switches the plan guard to its stricter points, and alerts go out by SMS."""

from __future__ import annotations

import dbus

from hotspot.plan.model import Threshold
from tests.lab.conftest import register
from tests.modem_mock import BEARER, BUS_NAME, MODEM_3GPP


def test_the_modem_shows_roaming_tightens_the_guard_and_alerts_go_by_sms(lab, modem, start_hotspotd):
    from lab.hotspotd import Hotspotd

    bus, mm, path = modem
    d = Hotspotd(lab, plan_quota=100_000_000, roaming_block_at=Threshold(bytes=5_000_000),
                 alert_at=(5,), alert_clients=False, alert_sms=("+491701234567",))
    d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "0.3"}
    d.start()
    try:
        register(lab, d, "c1")
        status = d.json("status")
        assert status["modem"]["operator_name"] == "Example Mobile"
        assert (status["modem"]["sim_type"], status["modem"]["sim_eid"]) == (
            "esim", "89049032000001000000012345678901")
        assert "Example Mobile" in d.ctl("status").stdout

        # at home the 5 MB roaming point does not apply
        lab.iperf("c1", bytes=6_000_000, reverse=True)
        d.wait_polls()
        assert lab.ping("c1", lab.server4)
        # the alert at 5 % of the plan went out by SMS, once (beside the one saying the SIM in the modem
        # took over the plan)
        def sent(what):
            return [(str(n), str(t)) for n, t in mm.manager.SentMessages() if what in str(t)]
        (alert,) = lab.wait_for(lambda: sent("5% of the data plan"), 10, "the SMS")
        assert alert[0] == "+491701234567"

        # roaming: the guard's stricter point applies at once; back home, it lets go
        mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(5))
        lab.wait_for(lambda: d.json("plan")["roaming"], 5, "hotspotd to see the roaming")
        assert not lab.ping("c1", lab.server4)
        assert d.client(lab.clients["c1"].mac)["state"] == "capped"
        mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(1))
        lab.wait_for(lambda: not d.json("plan")["roaming"], 5, "hotspotd to see it is home")
        assert lab.ping("c1", lab.server4)
        # the modem's count beside ours, over the same time: its bearer counted 2 MB more
        before = d.json("plan")["meters"]["modem"]
        bearer = mm.conn.get_object(BUS_NAME, path.replace("/Modem/", "/Bearer/"))
        dbus.Interface(bearer, dbus.PROPERTIES_IFACE).Set(BEARER, "Stats", dbus.Dictionary(
            {"rx-bytes": dbus.UInt64(123_456_789 + 2_000_000), "tx-bytes": dbus.UInt64(9_876_543)},
            signature="sv"))
        after = lab.wait_for(lambda: d.json("plan")["meters"]["modem"]["bytes"] > before["bytes"] and
                             d.json("plan")["meters"]["modem"], 5, "the modem's new count")
        assert after["bytes"] - before["bytes"] == 2_000_000
        assert after["difference"] == after["bytes"] - after["ours"]
        assert len(sent("5% of the data plan")) == 1
        lab.wait_for(lambda: sent("is roaming") and sent("home network"), 10, "the roaming SMS")
        assert len(sent("is roaming")) == 1 and len(sent("home network")) == 1
    finally:
        d.stop()
