"""Ghost traffic for real: a client idle for weeks starts uploading in the background; hotspotd
raises one alert naming the destination and the amount (webhook), the client's page shows it, and
the block the client taps there makes the kernel drop its packets to that address only."""

from __future__ import annotations

import re
import time
from pathlib import Path

from hotspot.core.store import Store
from lab import SERVER4, SERVER6
from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve

OTHER4 = "203.0.113.20"  # a second server address on the lab's internet


def _quiet_history(d, mac: str, now: float) -> None:
    """Four weeks of a device that hardly ever uses data (20 kB an hour), before hotspotd starts."""
    store = Store.open(d.config.run_dir, d.config.state_dir)
    with store.transaction():
        c = store.add_client(mac, now - 28 * 86400)
        hour = int(now // 3600 * 3600)
        store.db.executemany("INSERT INTO usage (client, hour, up, down) VALUES (?, ?, ?, ?)",
                             [(c.id, h, 8_000, 12_000) for h in range(hour - 28 * 86400, hour, 3600)])
    store.close()


def test_background_upload_alerts_owner_and_client_blocks_the_destination(lab, start_hotspotd):
    from lab.hotspotd import Hotspotd

    lab.run(lab.internet, "ip", "addr", "add", f"{OTHER4}/32", "dev", "lo")
    mac = lab.clients["c1"].mac
    hooks = Path(lab.dir) / "ghost-hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    try:
        options = dict(ghost_bin=1, ghost_min_duration=3, ghost_min_bytes=2_000_000,
                       alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
        _quiet_history(Hotspotd(lab, **options), mac, time.time())
        d = start_hotspotd(**options)
        d.wait_client(mac)
        assert lab.run(lab.router, "sysctl", "-n", "net.netfilter.nf_conntrack_acct").stdout.strip() == "1"

        run = lab.iperf_start("c1", seconds=6, bitrate="24M")  # ~3 MB/s up, in the background
        (hook,) = lab.wait_for(lambda: _lines(hooks), 20, "the ghost alert at the owner's webhook")
        run.wait()
        body = hook["body"]
        assert body["event"] == "ghost" and body["mac"] == mac and body["kind"] == "upload"
        top = body["destinations"][0]
        assert top["addr"] == SERVER4 and top["up"] >= 2_000_000
        assert body["bytes_up"] >= 6_000_000 and SERVER4 in body["text"]
        time.sleep(1.5)
        assert len(_lines(hooks)) == 1  # one event, one alert, however long it ran

        d.wait_portal("c1")
        me = lab.curl("c1", d.portal("/api/me")).stdout
        assert '"ghost"' in me and SERVER4 in me
        page = lab.curl("c1", d.portal("/"), "-c", f"{lab.dir}/jar", "-H", "Accept-Language: zh-CN").stdout
        assert "在后台上传了" in page and SERVER4 in page
        (token,) = re.findall(r'<meta name="csrf" content="([^"]+)"', page)

        assert lab.ping("c1", SERVER4)
        form = f"csrf={token}&action=block&destination={SERVER4}"
        out = lab.curl("c1", d.portal("/ghost"), "-b", f"{lab.dir}/jar", "-o", "/dev/null",
                       "-w", "%{http_code}", "--data", form).stdout
        assert out == "303"
        assert SERVER4 in d.nft("list", "chain", "inet", "hotspot", f"up{d.client(mac)['id']}")
        assert not lab.ping("c1", SERVER4)  # the kernel drops this device's packets to it
        assert lab.ping("c1", OTHER4) and lab.ping("c1", SERVER6)  # and only to it
        blocked = d.json("ghost", mac)["blocked"][mac]
        assert [b["addr"] for b in blocked] == [SERVER4]
    finally:
        web.kill()
