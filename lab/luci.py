"""A real LuCI for the lab's router (tests/openwrt/luci, the demo): OpenWrt's ubusd, rpcd and uhttpd
(built for this machine from OpenWrt's sources, outside this repository: see docs/luci.md) run in the
router's network namespace,
uhttpd answering LuCI's JSON-RPC at /ubus with rpcd's sessions and ACLs, and serving LuCI's own
JavaScript (luci-base's htdocs and the bootstrap theme, from a LuCI tree) with luci-app-hotspot in it.

LuCI's page shell is rendered by ucode on a router; here a static page boots LuCI's own luci.js with
the environment that shell gives it (the views, the menu, uhttpd's /ubus), after a login page that asks
rpcd for a session over the same JSON-RPC. Everything else is OpenWrt's own.

The processes see their own /etc (an overlay: /etc/config/rpcd with the logins, /etc/config/hotspot
the lab's config) and /run in a private mount namespace, so nothing of this machine's is changed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "openwrt" / "luci-app-hotspot"
PORT = 80


@dataclass(frozen=True)
class Login:
    """A login of /etc/config/rpcd: its ACL groups for reading and writing ('*' for all)."""

    name: str
    password: str
    read: tuple[str, ...] = ("unauthenticated", "luci-base", "luci-app-hotspot")
    write: tuple[str, ...] = ("luci-base", "luci-app-hotspot")


def crypt(password: str) -> str:
    """An MD5-crypt hash ($1$...) rpcd's login checks with crypt(3)."""
    return subprocess.run(["openssl", "passwd", "-1", "-stdin"], input=password, capture_output=True,
                          text=True, check=True).stdout.strip()


def read_po(path: Path) -> dict[str, str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("luci_generate", APP / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.read_po(path)


def pieces(where: str | os.PathLike | None = None) -> Path | None:
    """Where OpenWrt's pieces are (HOTSPOT_OPENWRT_HOST, see docs/luci.md), or None without them:
    prefix/ (ubusd, rpcd, uhttpd, ubus and their libraries), rpcd/ (its source's unauthenticated.json),
    luci/ (a LuCI tree: modules/luci-base, themes/luci-theme-bootstrap)."""
    where = where or os.environ.get("HOTSPOT_OPENWRT_HOST")
    if not where:
        return None
    host = Path(where)
    need = ("prefix/sbin/ubusd", "prefix/sbin/rpcd", "prefix/bin/uhttpd", "prefix/bin/ubus",
            "rpcd/unauthenticated.json", "luci/modules/luci-base/htdocs/luci-static/resources/luci.js")
    return host if all((host / n).exists() for n in need) else None


class LuciRouter:
    """ubusd, rpcd and uhttpd in `lab`'s router namespace. Their /etc/config is `config_dir` (rpcd's
    logins, and `hotspot`: the config hotspotd and hotspotctl read, which LuCI's Settings write)."""

    def __init__(self, lab, host: Path, logins: list[Login]) -> None:
        self.lab, self.prefix, self.luci = lab, host / "prefix", host / "luci"
        self.rpcd_acl = host / "rpcd/unauthenticated.json"
        self.dir = Path(lab.dir) / "luci"
        self.socket = self.dir / "ubus.sock"
        self.www = self.dir / "www"
        self.config_dir = Path(lab.dir) / "etc-config"
        self.hotspot_config = self.config_dir / "hotspot"
        self.logins = logins
        self.url = f"http://{lab.router4}:{PORT}"
        self.proc: subprocess.Popen | None = None

    # -- the files ------------------------------------------------------------------------------------

    def adopt(self, hotspotd) -> None:
        """Make the router's /etc/config/hotspot the config of `hotspotd` (not started yet, made with
        ubus_socket=str(self.socket)), and give it OpenWrt's ubus to ask rpcd with."""
        self.config_dir.mkdir(exist_ok=True)
        shutil.copy(hotspotd.config_path, self.hotspot_config)
        hotspotd.config_path = self.hotspot_config
        hotspotd.extra_env.update(PATH=f"{self.prefix / 'bin'}:{os.environ['PATH']}",
                                  LD_LIBRARY_PATH=str(self.prefix / "lib"))

    def _files(self) -> None:
        d = self.dir
        shutil.rmtree(d, ignore_errors=True)
        self.config_dir.mkdir(exist_ok=True)
        for sub in ("etc", "acl.d", "libexec", "bin", "www"):
            (d / sub).mkdir(parents=True)
        rpcd = []
        for login in self.logins:
            rpcd += ["config login", f"\toption username '{login.name}'",
                     f"\toption password '{crypt(login.password)}'"]
            rpcd += [f"\tlist read '{g}'" for g in login.read] + [f"\tlist write '{g}'" for g in login.write]
            rpcd.append("")
        (self.config_dir / "rpcd").write_text("\n".join(rpcd))
        # rpcd's own unauthenticated.json (session login for everyone), luci-base's, and the app's
        for acl in [APP / "root/usr/share/rpcd/acl.d/luci-app-hotspot.json", self.rpcd_acl,
                    *(self.luci / "modules/luci-base/root/usr/share/rpcd/acl.d").glob("*.json")]:
            shutil.copy(acl, d / "acl.d" / acl.name)
        plugin = d / "libexec/luci.hotspot"
        shutil.copy(APP / "root/usr/libexec/rpcd/luci.hotspot", plugin)
        plugin.chmod(0o755)
        # luci-base's own rpcd plugin `luci` is ucode, not built here: LuCI asks it only for the system's
        # features at start, and an empty answer is what a router without optional features gives
        luci = d / "libexec/luci"
        luci.write_text('#!/bin/sh\ncase "$1" in list) echo \'{"getFeatures":{}}\' ;;\n'
                        "call) echo '{}' ;; esac\n")
        luci.chmod(0o755)
        # rpcd runs the plugin, which runs hotspotctl from PATH on /etc/config/hotspot, as on a router
        ctl = d / "bin/hotspotctl"
        ctl.write_text(f'#!/bin/sh\nexec {sys.executable} -m hotspot.cli "$@"\n')
        ctl.chmod(0o755)
        self._www()

    def _www(self) -> None:
        www, luci = self.www, self.luci
        static = www / "luci-static"
        shutil.copytree(luci / "modules/luci-base/htdocs/luci-static", static)
        shutil.copytree(luci / "themes/luci-theme-bootstrap/htdocs/luci-static", static, dirs_exist_ok=True)
        shutil.copytree(APP / "htdocs/luci-static", static, dirs_exist_ok=True)
        menu = www / "cgi-bin/luci/admin"
        menu.mkdir(parents=True)
        (menu / "menu").write_text(json.dumps(self.menu()))
        for view in ("overview", "settings"):
            page = menu / "services/hotspot" / view
            page.mkdir(parents=True)
            (page / "index.html").write_text(shell(view))
        (www / "index.html").write_text(LOGIN_PAGE)
        catalogue = {}
        for po in (luci / "modules/luci-base/po/zh_Hans/base.po", APP / "po/zh_Hans/hotspot.po"):
            catalogue.update({k: v for k, v in read_po(po).items() if k and v})
        # what the dispatcher's admin/translations would send, keyed by msgid: cbi.js hashes them below
        (static / "resources/hotspot/zh-cn.js").write_text(
            "var CATALOGUE = " + json.dumps(catalogue, ensure_ascii=False) + ";\n")

    def menu(self) -> dict:
        """The menu tree the dispatcher would answer at admin/menu for a session holding the app's ACL
        (luci-base's Status, System and Services, and the app's entries from its menu.d)."""
        app = json.loads((APP / "root/usr/share/luci/menu.d/luci-app-hotspot.json").read_text())
        admin = {"title": "Administration", "satisfied": True, "order": 10, "children": {
            "status": {"title": "Status", "order": 10, "satisfied": True, "children": {}},
            "system": {"title": "System", "order": 20, "satisfied": True, "children": {}},
            "services": {"title": "Services", "order": 40, "satisfied": True, "children": {}},
        }}
        for path, node in app.items():
            where = admin
            parts = path.split("/")[1:]
            for part in parts[:-1]:
                where = where["children"].setdefault(part, {"children": {}, "satisfied": True})
            entry = where["children"].setdefault(parts[-1], {"children": {}})
            entry.update({k: v for k, v in node.items() if k != "depends"}, satisfied=True)
        return {"children": {"admin": admin}, "satisfied": True}

    # -- the processes --------------------------------------------------------------------------------

    def start(self) -> LuciRouter:
        self._files()
        p, d = self.prefix, self.dir
        script = f"""set -e
mount -t tmpfs tmpfs {d}/etc
mkdir -p {d}/etc/upper/config {d}/etc/work
mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/etc/upper,workdir={d}/etc/work /etc
mount --bind {self.config_dir} /etc/config
mount -t tmpfs tmpfs /run
mount --bind {d}/acl.d {p}/share/rpcd/acl.d
mount --bind {d}/libexec {p}/libexec/rpcd
export PATH={d}/bin:$PATH LD_LIBRARY_PATH={p}/lib
{p}/sbin/ubusd -s {self.socket} &
while [ ! -S {self.socket} ]; do sleep 0.05; done
{p}/sbin/rpcd -s {self.socket} &
exec {p}/bin/uhttpd -f -p 0.0.0.0:{PORT} -h {self.www} -x /no-cgi -u /ubus -U {self.socket} -n 8 -N 50
"""
        (d / "start.sh").write_text(script)
        for sub in ("share/rpcd/acl.d", "libexec/rpcd"):
            (p / sub).mkdir(parents=True, exist_ok=True)  # the mount points in the build's prefix
        self.log = open(d.parent / "luci.log", "w")  # noqa: SIM115 (open while the processes run)
        self.proc = self.lab.popen(self.lab.router, "unshare", "-m", "--propagation", "private", "sh",
                                   str(d / "start.sh"), stdout=self.log, stderr=self.log,
                                   start_new_session=True)
        self.lab.wait_for(self._up, 15, "ubusd, rpcd and uhttpd")
        return self

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the LuCI router exited: {Path(self.log.name).read_text()[-2000:]}")
        try:
            return "session" in self.ubus("list")
        except (OSError, subprocess.CalledProcessError, ValueError):
            return False

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    # -- talking to it --------------------------------------------------------------------------------

    def ubus(self, *args: str) -> dict | str:
        """The ubus command line on the router's socket (as root, past rpcd's ACLs)."""
        done = subprocess.run([str(self.prefix / "bin/ubus"), "-s", str(self.socket), *args],
                              capture_output=True, text=True, check=True, timeout=10,
                              env={**os.environ, "LD_LIBRARY_PATH": str(self.prefix / "lib")})
        if args[0] != "call":
            return done.stdout
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def jsonrpc(self, sid: str, method: str, *params) -> dict:
        """LuCI's JSON-RPC as the browser sends it, through uhttpd's /ubus (from the router's side)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": [sid, *params]})
        done = self.lab.run(self.lab.router, "curl", "-sS", "--max-time", "10", "-H",
                            "Content-Type: application/json", "--data-binary", "@-", self.url + "/ubus",
                            input=body)
        return json.loads(done.stdout)

    def login(self, name: str, password: str) -> str | None:
        """rpcd's session login over JSON-RPC; the session id, or None when refused."""
        answer = self.jsonrpc("0" * 32, "call", "session", "login", {"username": name, "password": password})
        result = answer.get("result") or []
        return result[1]["ubus_rpc_session"] if len(result) > 1 else None


def shell(view: str) -> str:
    """The page LuCI's view.ut renders for a view (header, view, footer), with the environment its
    luci.js expects. The session is the one the login page had from rpcd (kept in sessionStorage)."""
    request_path = ["admin", "services", "hotspot", view]
    env = {"media": "/luci-static/bootstrap", "resource": "/luci-static/resources",
           "scriptname": "/cgi-bin/luci", "pathinfo": "/" + "/".join(request_path), "documentroot": "/www",
           "requestpath": request_path, "dispatchpath": request_path, "pollinterval": 5,
           "ubuspath": "/ubus/", "sessionid": None, "token": None,
           "nodespec": {"action": {"type": "view", "path": f"hotspot/{view}"}},
           "apply_rollback": 90, "apply_holdoff": 4, "apply_timeout": 5, "apply_display": 1.5,
           "rollback_token": None}
    return SHELL.replace("@ENV@", json.dumps(env)).replace("@VIEW@", f"hotspot/{view}")


SHELL = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>router - LuCI</title>
<meta name="viewport" content="initial-scale=1.0">
<link rel="stylesheet" href="/luci-static/bootstrap/cascade.css">
<link rel="stylesheet" media="only screen and (max-device-width: 854px)"
  href="/luci-static/bootstrap/mobile.css">
<script>
  var sid = sessionStorage.getItem('luci-sid');
  if (!sid) location.replace('/');
  var lang = (sessionStorage.getItem('luci-lang') || 'en');
  document.documentElement.lang = lang;
  if (lang == 'zh-cn')
    document.write('<script src="/luci-static/resources/hotspot/zh-cn.js"><\\/script>');
</script>
<script src="/luci-static/resources/cbi.js"></script>
<script>
  if (window.CATALOGUE) {
    window.TR = {};
    for (var k in CATALOGUE) TR[sfh(k)] = CATALOGUE[k];
  }
</script>
</head>
<body class="lang_en" data-page="admin-services-hotspot">
<header>
  <a class="brand" href="/">router</a>
  <ul class="nav" id="topmenu" style="display:none"></ul>
  <div id="indicators" class="pull-right"></div>
</header>
<div id="maincontent" class="container">
  <div id="tabmenu" style="display:none"></div>
<script src="/luci-static/resources/promis.min.js"></script>
<script src="/luci-static/resources/luci.js"></script>
<script>
  var env = @ENV@;
  env.sessionid = sid;
  L = new LuCI(env);
</script>
<div id="view">
  <div class="spinning">Loading view…</div>
  <script>
    L.require('ui').then(function(ui) { ui.instantiateView('@VIEW@'); });
  </script>
</div>
</div>
<footer>
  <span>Powered by LuCI (static page shell) / OpenWrt's ubusd, rpcd and uhttpd</span>
  <ul class="breadcrumb pull-right" id="modemenu" style="display:none"></ul>
</footer>
<script>L.require('menu-bootstrap')</script>
</body>
</html>
"""

# The login: rpcd's session login over uhttpd's JSON-RPC, as LuCI's sysauth does on a router.
LOGIN_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>router - LuCI</title>
<meta name="viewport" content="initial-scale=1.0">
<link rel="stylesheet" href="/luci-static/bootstrap/cascade.css">
</head>
<body>
<div id="maincontent" class="container">
<form id="login" class="cbi-map" onsubmit="return login()">
  <h2>Authorization Required</h2>
  <div class="cbi-section"><div class="cbi-section-node">
    <div class="cbi-value"><label class="cbi-value-title">Username</label>
      <div class="cbi-value-field"><input name="username" value="root"></div></div>
    <div class="cbi-value"><label class="cbi-value-title">Password</label>
      <div class="cbi-value-field"><input name="password" type="password"></div></div>
    <div class="cbi-value"><label class="cbi-value-title">Language</label>
      <div class="cbi-value-field"><select name="lang"><option value="en">English</option>
        <option value="zh-cn">中文 (Chinese)</option></select></div></div>
  </div></div>
  <p id="error" class="alert-message error" style="display:none"></p>
  <div class="cbi-page-actions"><button class="btn cbi-button-positive" type="submit">Login</button></div>
</form>
</div>
<script>
function login() {
  var f = document.getElementById('login');
  fetch('/ubus', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'call', params: [ '00000000000000000000000000000000', 'session', 'login',
      { username: f.username.value, password: f.password.value } ] }) })
  .then(function(r) { return r.json(); }).then(function(res) {
    var s = res.result && res.result[1];
    if (!s) {
      var e = document.getElementById('error');
      e.textContent = 'Invalid username and/or password! Please try again.';
      e.style.display = '';
      return;
    }
    sessionStorage.setItem('luci-sid', s.ubus_rpc_session);
    sessionStorage.setItem('luci-lang', f.lang.value);
    location.href = '/cgi-bin/luci/admin/services/hotspot/overview/';
  });
  return false;
}
</script>
</body>
</html>
"""
