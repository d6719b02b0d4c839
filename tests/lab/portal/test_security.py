"""The portal's security cases against the real hotspotd and gunicorn, from inside lab clients: admin
pages and /metrics need auth, a POST without its CSRF token changes nothing, password guessing is
slowed, hostile names come out escaped, oversized input is refused, settings go back to the config."""

from __future__ import annotations

import re
from pathlib import Path

from tests.lab.conftest import register

PASSWORD = "owner-secret-1"
TOKEN = "metrics-token-0123456789"
HOSTILE = '<script>alert(1)</script>"; flush ruleset'


class Browser:
    """curl with a cookie jar, in one client's namespace."""

    def __init__(self, lab, d, client: str):
        self.lab, self.d, self.client = lab, d, client
        self.jar = Path(lab.dir) / f"cookies-{client}"

    def request(self, path: str, *args: str) -> tuple[int, str, str]:
        out = self.lab.curl(self.client, self.d.portal(path), "-s", "-i", "-b", str(self.jar),
                            "-c", str(self.jar), *args).stdout
        head, _, body = out.partition("\n\n")
        return int(head.split()[1]), head, body

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.request(path)[2]).group(1)

    def post(self, path: str, form: dict[str, str], *, csrf: str | None = "auto") -> tuple[int, str, str]:
        if csrf == "auto":
            csrf = self.csrf(path if not path.endswith("/act") else path[: -len("/act")])
        fields = {**form, **({"csrf": csrf} if csrf else {})}
        args = [a for k, v in fields.items() for a in ("--data-urlencode", f"{k}={v}")]
        return self.request(path, *args)


def test_admin_and_metrics_guard_themselves(lab, start_hotspotd):
    d = start_hotspotd(metrics_token=TOKEN)
    register(lab, d, "c1", "c2")
    victim = lab.clients["c1"].mac
    d.ctl("passwd", input=PASSWORD + "\n")
    d.wait_portal()
    guest, owner = Browser(lab, d, "c1"), Browser(lab, d, "c2")

    # Without a login: the admin pages send to the login page, /metrics says 401.
    for path in ("/admin", "/admin/clients", f"/admin/clients/{victim}", "/admin/settings",
                 "/admin/export.csv"):
        status, head, _ = guest.request(path)
        assert status == 302 and "/admin/login" in head, (path, status)
    assert guest.request("/metrics")[0] == 401
    assert guest.request("/metrics", "-H", "Authorization: Bearer wrong-token-0123456789")[0] == 401
    status, head, metrics = guest.request("/metrics", "-H", f"Authorization: Bearer {TOKEN}")
    assert status == 200 and f'hotspot_client_bytes_total{{mac="{victim}"' in metrics

    # A POST without its CSRF token is refused and changes nothing.
    assert guest.post("/admin/login", {"password": PASSWORD}, csrf=None)[0] == 400
    # Guessing is slowed: after a few wrong passwords even the right one must wait...
    for _ in range(5):
        assert guest.post("/admin/login", {"password": "guess-guess"})[0] == 403
    status, _, body = guest.post("/admin/login", {"password": PASSWORD})
    assert status == 429 and "try again in" in body
    # ...but only for that address: the owner logs in from another device.
    status, head, _ = owner.post("/admin/login", {"password": PASSWORD})
    assert status == 303 and "/admin" in head
    assert owner.request("/admin/clients")[0] == 200

    # Logged in, a state change still needs the token.
    assert owner.post(f"/admin/clients/{victim}/act", {"action": "block"}, csrf=None)[0] == 400
    assert owner.post(f"/admin/clients/{victim}/act", {"action": "block"}, csrf="forged")[0] == 400
    assert d.client(victim)["blocked"] is False
    # Oversized input: refused, nothing changed.
    assert owner.post(f"/admin/clients/{victim}/act", {"action": "rename", "value": "x" * 20_000})[0] == 413
    assert d.client(victim)["alias"] is None

    # A hostile name comes out escaped in every page, the CSV and the metrics; nft never sees it.
    assert owner.post(f"/admin/clients/{victim}/act", {"action": "rename", "value": HOSTILE[:32]})[0] == 303
    for path in ("/admin/clients", f"/admin/clients/{victim}"):
        page = owner.request(path)[2]
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert HOSTILE[:32] not in d.nft("list", "table", "inet", "hotspot")

    # Settings are checked, then written back to the config file and applied at once.
    form = {"default_cap": "3GB", "period": "monthly", "period_start": "1", "after_cap": "throttle",
            "after_cap_rate": "1mbit", "auth": "none"}
    assert owner.post("/admin/settings", {**form, "after_cap_rate": "fast"})[0] == 400
    assert "option after_cap 'block'" in d.config_path.read_text()
    assert owner.post("/admin/settings", form)[0] == 303
    text = d.config_path.read_text()
    assert "option after_cap 'throttle'" in text and "option default_cap '3GB'" in text
    plan = d.json("status")["plan"]
    assert plan["after_cap"] == "throttle" and plan["default_cap"] == 3_000_000_000
