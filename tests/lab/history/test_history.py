"""Usage history against the real hotspotd after real traffic: hotspotctl history by hour, day and month
for a client and the plan, then 40 days later (the daemon's clock moved) the hour compacted into its day
by hotspotd's poll with every byte kept."""

from __future__ import annotations

from datetime import date

from tests.lab.conftest import register


def test_history_of_real_traffic_and_its_compaction_by_the_running_daemon(lab, start_hotspotd):
    d = start_hotspotd(poll_interval=0.5)
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    lab.iperf("c1", bytes=3_000_000, reverse=True)
    d.wait_polls()
    used = d.client(mac)["bytes_total"]
    assert used >= 3_000_000

    hours = d.json("history", mac, "--by", "hour")
    days = d.json("history", mac, "--by", "day")
    months = d.json("history", mac, "--by", "month")
    assert sum(h["bytes_total"] for h in hours) == sum(x["bytes_total"] for x in days) == \
        sum(m["bytes_total"] for m in months) == used
    plan = d.json("history", "plan", "--by", "day")
    assert sum(p["bytes_total"] for p in plan) >= used

    today = date.today().isoformat()
    d.clock_file.write_text(str(40 * 86400))  # 40 days on: today's hours expire (30 days kept)
    d.wait_polls(4)
    later = d.ctl("history", mac, "--by", "hour", "--from", today, check=False)
    assert later.returncode == 2 and later.stdout == ""
    assert later.stderr.startswith("hotspotctl: hourly history starts ") and later.stderr.count("\n") == 1
    (day,) = d.json("history", mac, "--by", "day", "--from", today)
    assert day["start"].startswith(today) and day["bytes_total"] == used  # moved whole, by the daemon
    assert sum(p["bytes_total"] for p in d.json("history", "plan", "--by", "day", "--from", today)) == \
        sum(p["bytes_total"] for p in plan)
