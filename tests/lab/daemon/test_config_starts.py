"""Every config load() accepts starts hotspotd: many generated configs, each option set to one of its
valid values at random (seeded), are started for real in one lab; each must reach "polling every" and
answer `hotspotctl status`. A config load() refuses is skipped: refusing it, with the line to fix, is
the other half of the promise."""

from __future__ import annotations

import random
import time
from pathlib import Path

from hotspot.apps import categories
from hotspot.config import OPTIONS, ConfigError, load
from lab.hotspotd import Hotspotd
from tests.lab.portal.test_portal import _lab_ca

_OPTIONS = sorted(o.name for o in OPTIONS)
_LISTS = {o.name for o in OPTIONS if o.list}
SEED = 20240517
CONFIGS = 30  # about 3 s each: start, status, stop


def _values(lab, d: Hotspotd, pki: dict) -> dict:
    """option -> a function of the random generator that returns its text in the file (a list option:
    its values). The lab's own devices and files where the daemon must find them."""
    home = d.dir
    sizes = ["", "none", "500MB", "2GB", "1.5GiB", "20GB", "1TB"]
    rates = ["64kbit", "256kbit", "1mbit", "2.5mbit", "100mbit", "1gbit"]
    durations = ["90", "30m", "1h30m", "24h", "1d", "2w"]
    thresholds = ["", "none", "50%", "90%", "100%", "120%", "10GB", "18GB"]
    pick = lambda *choices: lambda r: r.choice(choices)  # noqa: E731
    some = lambda *choices: lambda r: r.sample(choices, r.randint(0, len(choices)))  # noqa: E731
    number = lambda lo, hi: lambda r: str(r.randint(lo, hi))  # noqa: E731
    return {
        "lan_device": pick(lab.lan_device),
        "wan_device": lambda r: [lab.wan_device] + r.sample(["wwan9", "usb0"], r.randint(0, 1)),
        "unmetered_device": some("wan1", "eth9"),
        "state_dir": pick(str(home / "state"), str(home / "state2")),
        "run_dir": pick(str(home / "run"), str(home / "run2")),
        "poll_interval": pick("0.2", "0.5", "1", "2"),
        "commit_interval": pick("10", "60", "600", "86400"),
        "client_retention": pick("none", "0", "1h", "90d", "2w"),
        "portal_port": pick("0", "8080", "18080"),
        "auth": pick("none", "click", "voucher"),
        "session_timeout": pick(*durations),
        "idle_timeout": pick("none", *durations),
        "period": pick("daily", "weekly", "monthly"),
        "period_start": number(1, 7),
        "default_cap": pick(*sizes),
        "after_cap": pick("block", "throttle"),
        "after_cap_rate": pick(*rates),
        "warn_at": number(1, 100),
        "leases_file": pick(lab.leases_file, str(home / "no-such-leases")),
        "ct_mark_mask": pick("0xffff0000", "0xff000000", "0x00ff0000", "0x0000fff0", "4278190080"),
        "portal_user": pick(d.config.portal_user, "nobody", "no-such-user"),
        "portal_name": pick("", "portal.lab"),
        "tls_cert": pick("", pki["cert"]),  # tls_key follows it (HTTPS takes both or neither)
        "tls_key": pick(""),  # the certificate's key when there is one: see _config
        "tls_port": pick("8443", "443", "18443"),
        "metrics_token": pick("", "metrics-token-0123456789"),
        "radius_server": some("192.0.2.10", "192.0.2.11:1812:1813/per-server-secret"),
        "radius_secret": pick("", "s3cret-shared"),
        "radius_nas_id": pick("", "bus-7"),
        "radius_timeout": number(1, 30),
        "radius_retries": number(1, 5),
        "radius_mac_auth": pick("0"),  # '1' is refused until MAC sign-in exists (its own test)
        "radius_coa_port": pick("3799", "13799"),
        "radius_coa_client": some("192.0.2.10", "2001:db8::10"),
        "radius_coa_secret": pick("", "coa-secret"),
        "metrics_textfile": pick("", str(home / "prometheus" / "hotspot.prom")),
        "metrics_textfile_interval": number(1, 60),
        "venue": pick("", "Café 'Zur Linde'", "旅行路由器", 'a "quoted" #name; really'),
        "plan_quota": pick(*sizes),
        "plan_period": pick("daily", "weekly", "monthly", "pass"),
        "plan_period_start": number(1, 7),
        "plan_start_hour": number(0, 23),
        "plan_timezone": pick("", "Asia/Tokyo", "UTC+8", "UTC-5", "Europe/Berlin"),
        "plan_pass_length": pick(*durations),
        "plan_activated": pick("", "2026-01-01 12:00", "2025-12-24T08:30:00"),
        "plan_throttle_at": pick(*thresholds),
        "plan_throttle_rate": pick(*rates),
        "plan_block_at": pick(*thresholds),
        "plan_stop_at": pick(*thresholds),
        "roaming_throttle_at": pick(*thresholds),
        "roaming_block_at": pick(*thresholds),
        "roaming_stop_at": pick(*thresholds),
        "roaming_quota": pick(*sizes),
        "ask_default": pick("", "none", "500MB", "2GB"),
        "carrier_query_interval": pick("none", "6h", "1d"),
        "carrier_ussd": some("8944 *100#", "* *121#"),
        "carrier_sms_from": some("10086", "+8613800138000"),
        "carrier_pattern": some("898600 used:1024 已使用(?P<amount>[\\d.]+ ?[GMK]B)",
                                "* left (?P<amount>[\\d.]+ ?GB) left"),
        "carrier_max_jump": pick("500MB", "2GB"),
        "esim_lpac": pick("/usr/bin/lpac", str(home / "no-lpac")),
        "esim_apdu": pick("", "qmi", "mbim"),
        "plan_next_sim": pick("0"),  # '1' needs modem '1': a config error otherwise (its own test)
        "plan_exempt": some("02:00:00:00:00:01", "aa:bb:cc:dd:ee:ff"),
        "alert_at": pick("80 95 100", "50", "1,100", "90% 100%"),
        "alert_clients": pick("0", "1"),
        "alert_webhook": pick("", "http://127.0.0.1:9/hook?token=x", "https://hooks.example.com/h"),
        "alert_webhook_secret": pick("", "s3cret", "a much longer secret with spaces"),
        "alert_email": some("owner@example.com", "second@example.org"),
        "alert_sms": some("+491701234567", "+8613800138000"),
        "smtp_host": pick("", "localhost", "mail.example.com", "192.0.2.25"),
        "smtp_port": pick("25", "465", "587"),
        "smtp_security": pick("starttls", "tls", "none"),
        "smtp_user": pick("", "owner", "owner@example.com"),
        "smtp_password": pick("", "hunter2-hunter2"),
        "smtp_from": pick("", "router@example.com"),
        "report": pick("none", "daily", "weekly", "monthly", "weekly monthly"),
        "owner_language": pick("en", "zh-Hans"),
        "report_hour": number(0, 23),
        "modem": pick("0", "1"),
        "dhcp_opts_file": pick("none", lab.dhcp_opts_file),
        "dnsmasq_pidfile": pick(lab.dnsmasq_pid_file, str(home / "no-dnsmasq.*.pid")),
        "ghost": pick("0", "1"),
        "ghost_sensitivity": pick("low", "medium", "high"),
        "ghost_bin": pick("60", "5m", "300"),
        "ghost_min_duration": pick("10m", "30m", "1h"),
        "ghost_min_bytes": pick("1MB", "20MB", "1GB"),
        "categories_file": pick("", str(categories.BUILTIN)),
        "dnsmasq_nftset_file": pick("none", str(home / "dnsmasq.d" / "hotspot.conf")),
        "dnsmasq_restart": pick("none", "/bin/true"),
        "dns_redirect": pick("0", "1"),
        "update_guard": pick("0", "1"),
        "update_guard_categories": some(*categories.CATEGORIES),
        "update_guard_action": pick("block", "throttle"),
        "update_guard_rate": pick(*rates),
        "history_hourly_days": pick("1", "30", "3660"),
        "history_daily_months": pick("1", "13", "1200"),
        "dns_snoop": pick("0", "1"),
        "dns_min_ttl": pick("0", "60", "86400"),
        "ubus_socket": pick("", "/var/run/ubus/ubus.sock", str(home / "no-ubus.sock")),
    }


def _quote(v: str) -> str:
    return "'" + v.replace("'", "'\\''") + "'"


def _config(r: random.Random, values: dict, tls_key: str) -> str:
    lines = ["config hotspot 'main'"]
    chosen = {key: gen(r) for key, gen in values.items()}
    chosen["tls_key"] = tls_key if chosen["tls_cert"] else ""
    for key in _OPTIONS:
        value = chosen[key]
        if key in _LISTS:
            if r.random() < 0.5 or key in ("carrier_ussd", "carrier_pattern"):  # items with spaces
                lines += [f"\tlist {key} {_quote(v)}" for v in value]
            else:
                lines.append(f"\toption {key} {_quote(' '.join(value))}")
        else:
            lines.append(f"\toption {key} {_quote(value)}")
    return "\n".join(lines) + "\n"


def test_every_config_load_accepts_starts_hotspotd_and_answers(lab):
    pki = _lab_ca(Path(lab.dir))
    d = Hotspotd(lab)
    values = _values(lab, d, pki)
    assert sorted(values) == _OPTIONS, "give the generator the new option's valid values"
    r = random.Random(SEED)
    started, refused, took = 0, [], time.monotonic()
    while started < CONFIGS:
        text = _config(r, values, pki["key"])
        d.config_path.write_text(text)
        try:
            d.config = load(d.config_path)
        except ConfigError as e:
            refused.append(e.errors[0])
            assert len(refused) < 4 * CONFIGS, refused[-5:]
            continue
        try:
            d.start()
            status = d.ctl("status")
        except Exception as e:
            raise AssertionError(f"config #{started} did not start:\n{text}\n{e}") from None
        assert status.stdout.startswith("daemon:    running"), (text, status.stdout)
        assert d.stop() == 0, (text, d.log()[-2000:])
        lab.run(lab.router, "nft", "delete", "table", "inet", "hotspot", check=False)  # start afresh
        started += 1
    print(f"{started} configs started, {len(refused)} refused by load(), {time.monotonic() - took:.0f} s")
