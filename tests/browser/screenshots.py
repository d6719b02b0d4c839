"""Screenshots of every portal page at phone and desktop widths, in English and Chinese.

    python -m tests.browser.screenshots OUTDIR [ONLY]   (ONLY: shoot the pages whose name contains it)

Serves the app on the FakeBackend from werkzeug dev servers on 127.0.0.1 (one per persona: the server sets
REMOTE_ADDR, as hotspotd's neighbour lookup would name the device) and drives Debian's headless chromium.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from hotspot.portal.app import create_app
from tests.portal_fake import FakeBackend

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Persona:
    """One LAN client (by address) seen by its own portal server."""

    def __init__(self, ip: str, auth: str = "none"):
        self.server = make_server("127.0.0.1", 0, None)  # port first, so the backend knows its portal_url
        port = self.server.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.backend = FakeBackend(auth=auth, portal_url=self.url)
        app = create_app(self.backend)

        def as_client(environ, start_response):
            environ["REMOTE_ADDR"] = ip
            return app(environ, start_response)

        self.server.app = as_client
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def driver(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in CHROME_ARGS + [f"--user-data-dir={profile}", "--lang=en-US", "--hide-scrollbars"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def shoot(d, url: str, out: Path, size: str, before=None) -> None:
    w, h = SIZES[size]
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": size == "phone"})
    d.get(url)
    if before:
        before(d)
    time.sleep(0.4)  # the charts draw on DOMContentLoaded
    full = d.execute_script("return document.documentElement.scrollHeight")
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": w, "height": max(h, full), "deviceScaleFactor": 1, "mobile": size == "phone"})
    d.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.2)
    d.save_screenshot(str(out))
    print(out)


def login(d, base: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    d.get(base + "/admin/login")
    d.find_element(By.NAME, "password").send_keys(password)
    d.find_element(By.CSS_SELECTOR, "form.stack button").click()
    time.sleep(0.3)


def voucher_persona() -> Persona:
    """A guest signed in with a voucher whose shared data is partly used."""
    p = Persona("10.0.0.10", auth="voucher")
    me = p.backend.by_ip["10.0.0.10"]
    me.update(cap=None, remaining=1_260_000_000, voucher="HZ7K-Q4PM", voucher_bytes=2_000_000_000,
              voucher_used=740_000_000, voucher_remaining=1_260_000_000,
              voucher_expires="2026-11-29T09:30:00")
    return p


def plan_persona(used: int) -> Persona:
    """Anna's phone (not exempt here) on a hotspot whose data plan has `used` bytes of its 20 GB."""
    p = Persona("10.0.0.10")
    p.backend.plan_state.exempt = []
    p.backend.plan_state.used = used
    return p


def blocked_by_both(backend: FakeBackend) -> None:
    """The phone (10.0.0.10) paused itself, with a destination the owner blocked and one it blocked."""
    c = backend.by_ip["10.0.0.10"]
    c["ghost"]["blocked"] = [{"addr": "203.0.113.50", "name": "upload.photos-sync.example", "by": "owner"},
                             {"addr": "2001:db8:5::7", "name": None, "by": "device"}]
    c.update(blocked=True, self_paused=True, state="blocked", reason="paused")
    c["ghost"]["self_paused"] = True


def ghost_persona() -> Persona:
    p = Persona("10.0.0.10")
    blocked_by_both(p.backend)
    return p


def own_limits_persona() -> Persona:
    """Anna's phone with its own warning passed, an ask point and a limit of its own."""
    p = Persona("10.0.0.10")
    p.backend.by_ip["10.0.0.10"].update(owner_cap=2_000_000_000, own_warn=500_000_000, own_ask=1_000_000_000,
                                        own_limit=1_500_000_000, cap=1_500_000_000, own_warned=True,
                                        ask_point=1_000_000_000, state="warned", reason="warned")
    return p


def own_stopped_persona() -> Persona:
    """Anna's phone stopped at its own limit ("stop here")."""
    p = Persona("10.0.0.10")
    p.backend.by_ip["10.0.0.10"].update(owner_cap=2_000_000_000, own_limit=620_000_000, cap=620_000_000,
                                        remaining=0, own_stopped=True, state="capped", reason="own_limit")
    return p


def asking_persona() -> Persona:
    """Anna's phone held at its own ask point, waiting for an answer."""
    p = Persona("10.0.0.10")
    p.backend.by_ip["10.0.0.10"].update(owner_cap=2_000_000_000, own_ask=600_000_000, ask_point=600_000_000,
                                        asking=True, state="capped", reason="ask")
    return p


def selfserve_persona(told: bool = True) -> Persona:
    """The phone turned its data off and asked the owner for more (or its owner has no alert channel)."""
    p = Persona("10.0.0.10")
    c = p.backend.by_ip["10.0.0.10"]
    c.update(blocked=True, self_paused=True, state="blocked", reason="paused")
    c["ghost"].update(events=[], self_paused=True)
    c["ask"].update(asked_at="2026-11-22T14:05:00", next_at="2026-11-22T15:05:00", told=told)
    if not told:
        c["ask"]["asked_at"] = c["ask"]["next_at"] = None
        c.update(self_paused=False, owner_blocked=True, reason="blocked")
        c["trickle"].update(basis="night", quiet_hours=[0, 1, 2, 3, 4, 5], learnt_days=3,
                            days=c["trickle"]["days"][-4:])
    return p


def admin_persona() -> Persona:
    """The owner, with the plan past its throttle point and a modem that reports its figures."""
    p = Persona("10.0.0.10")
    p.backend.plan_state.used = 18_400_000_000
    p.backend.plan_state.topup = 0
    p.backend.modem = {"state": "connected", "access_technologies": ["lte"], "operator_name": "Vodafone DE",
                       "registration": "home", "roaming": False, "signal_quality": 72, "rsrp": -95.0,
                       "rx_bytes": 3_210_000_000, "tx_bytes": 412_000_000, "sim_type": "esim"}
    p.backend.carrier = {"iccid": "8986001234567890123", "source": "sms", "from": "10086",
                         "at": "2026-12-08T09:10:00+08:00", "kind": "used", "amount": 19_327_352_832,
                         "used": 19_327_352_832, "taken": False,
                         "why": "it would move the plan's figure from %(now)s to %(used)s, more than "
                                "carrier_max_jump (%(max)s)",
                         "why_args": {"now": "18.40 GB", "used": "19.33 GB", "max": "500 MB"},
                         "text": "尊敬的客户，截至12月08日09时，您当月套餐内通用流量已使用18.00GB，"
                                 "剩余2.00GB。【中国移动】"}
    blocked_by_both(p.backend)
    p.backend.by_ip["10.0.0.11"].update(own_limit=1_800_000_000, own_warn=1_500_000_000, ask_at=1_000_000_000,
                                        ask_point=1_000_000_000, asking=True)
    p.backend.sim_plans = [sim_plan("8944110000000000016", "Home", "Vodafone DE", "physical", True,
                                    18_400_000_000, 20_000_000_000, "monthly"),
                           sim_plan("89860012345678901238", "Japan pass", "China Mobile", "esim", False,
                                    3_100_000_000, 5_000_000_000, "pass"),
                           sim_plan("89882110000001234567", None, None, "esim", False, 0, None, "monthly")]
    p.backend.sim_plans[0]["calibrations"] = [
        {"at": "2026-12-01T09:30:00", "made": "2026-12-01T09:31:00", "theirs": 2_450_000_000,
         "ours": 2_380_000_000, "gap": 70_000_000, "source": "ussd", "text": "Used 2.45GB of 20GB"},
        {"at": "2026-11-20T18:00:00", "made": "2026-11-20T18:02:00", "theirs": 9_000_000_000,
         "ours": 0, "gap": 9_000_000_000, "source": "owner", "text": None}]
    return p


def sim_plan(iccid, name, operator, sim_type, active, used, quota, cycle) -> dict:
    return {"iccid": iccid, "name": name, "active": active, "used": used, "quota": quota, "topup": 0,
            "allowance": quota, "percent": None if not quota else round(used * 100 / quota, 1),
            "cycle": cycle,
            "cycle_start": None, "cycle_end": None, "operator": operator, "sim_type": sim_type,
            "first_seen": "2026-11-01T10:00:00", "last_seen": "2026-12-06T22:15:00", "settings": {},
            "calibrations": []}


def main(outdir: str, only: str | None = None) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    people = {
        "client-ok": (Persona("10.0.0.10"), "/"),
        "client-throttled": (Persona("10.0.0.11"), "/"),
        "client-capped": (Persona("10.0.0.12", auth="voucher"), "/"),
        "client-signin": (Persona("10.0.0.13", auth="click"), "/signin?url=http%3A%2F%2Fexample.com%2F"),
        "client-warned": (Persona("10.0.0.14"), "/"),
        "client-voucher": (voucher_persona(), "/"),
        "client-voucher-signin": (Persona("10.0.0.13", auth="voucher"), "/signin?voucher=C7YF-3GUS"),
        "client-radius-signin": (Persona("10.0.0.13", auth="radius"), "/signin"),
        "client-plan-alert": (plan_persona(17_100_000_000), "/"),
        "client-plan-paused": (plan_persona(20_000_000_000), "/"),
        "client-history-day": (Persona("10.0.0.10"), "/?day=2026-11-20&month=2026-11"),
        "client-history-out-of-range": (Persona("10.0.0.10"), "/?to=9999-12-31"),
        "client-ghost-paused": (ghost_persona(), "/"),
        "client-own-limits": (own_limits_persona(), "/"),
        "client-own-stopped": (own_stopped_persona(), "/"),
        "client-ask": (asking_persona(), "/ask?url=http%3A%2F%2Fexample.com%2F"),
        "client-selfserve-off": (selfserve_persona(), "/"),
        "client-selfserve-nochannel": (selfserve_persona(told=False), "/"),
    }
    people = {k: v for k, v in people.items() if not only or only in k}
    admin = admin_persona()
    mac = "3c:22:fb:44:55:66"
    with tempfile.TemporaryDirectory() as profile:
        d = driver(profile)
        try:
            for lang in ("en", "zh"):
                for size in SIZES:
                    for name, (p, path) in people.items():
                        sep = "&" if "?" in path else "?"
                        shoot(d, f"{p.url}{path}{sep}lang={lang}", out / f"{name}-{size}-{lang}.png", size)
                    d.delete_all_cookies()
                    if not only or only in "admin-login":
                        shoot(d, f"{admin.url}/admin/login?lang={lang}",
                              out / f"admin-login-{size}-{lang}.png", size)
                    login(d, admin.url, admin.backend.password)
                    for name, path in (("admin-dashboard", "/admin"), ("admin-clients", "/admin/clients"),
                                       ("admin-client", f"/admin/clients/{mac}"),
                                       ("admin-client-ghost", "/admin/clients/a4:5e:60:11:22:33"),
                                       ("admin-approve", f"/admin/clients/{mac}/approve?size=500000000"),
                                       ("admin-settings", "/admin/settings"),
                                       ("admin-vouchers", "/admin/vouchers"),
                                       ("admin-plan", "/admin/plan"), ("admin-alerts", "/admin/alerts"),
                                       ("admin-plan-other-sim", "/admin/plan?sim=89860012345678901238"),
                                       ("admin-apps", "/admin/apps"),
                                       ("admin-vouchers-print", "/admin/vouchers/print/1")):
                        if only and only not in name:
                            continue
                        sep = "&" if "?" in path else "?"
                        shoot(d, f"{admin.url}{path}{sep}lang={lang}", out / f"{name}-{size}-{lang}.png",
                              size)
                    d.delete_all_cookies()
        finally:
            d.quit()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m tests.browser.screenshots OUTDIR [ONLY]")
    main(*sys.argv[1:])
