"""A real LuCI for the lab's router (tests/luci, the demo): OpenWrt's ubusd, rpcd and uhttpd
with ucode (built for this machine from OpenWrt's sources, outside this repository: see docs/luci.md)
run in the router's network namespace. uhttpd serves LuCI itself: its ucode dispatcher renders the
pages (login, menu, views, apply) with luci-base's templates and the bootstrap theme, answers LuCI's
JSON-RPC at /ubus with rpcd's logins, sessions and ACLs, and rpcd runs luci-base's ucode plugin and
luci-app-hotspot's exec plugin. The files sit where OpenWrt puts them (/usr/share/ucode/luci,
/usr/share/luci/menu.d, /usr/lib/lua/luci/i18n, /etc/config), in overlays that only these processes
see: a private mount namespace, with its own /etc, /usr/share, /usr/lib, /run and /tmp, so nothing of
this machine's is changed.
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
    read: tuple[str, ...] = ("*",)
    write: tuple[str, ...] = ("*",)


def crypt(password: str) -> str:
    """An MD5-crypt hash ($1$...) rpcd's login checks with crypt(3)."""
    return subprocess.run(["openssl", "passwd", "-1", "-stdin"], input=password, capture_output=True,
                          text=True, check=True).stdout.strip()


def pieces(where: str | os.PathLike | None = None) -> Path | None:
    """Where OpenWrt's pieces are (HOTSPOT_OPENWRT_HOST, see docs/luci.md), or None without them:
    prefix/  ubusd, rpcd (with its ucode plugin support), uhttpd (with its ubus and ucode handlers),
             ubus, ucode and its modules, with their libraries (libubox, libubus, libuci, libucode)
    rpcd/    rpcd's source tree (its unauthenticated.json)
    luci/    a LuCI tree: modules/luci-base (its src/ built: core.so and po2lmo) and
             themes/luci-theme-bootstrap"""
    where = where or os.environ.get("HOTSPOT_OPENWRT_HOST")
    if not where:
        return None
    host = Path(where)
    need = ("prefix/sbin/ubusd", "prefix/sbin/rpcd", "prefix/bin/uhttpd", "prefix/bin/ubus",
            "prefix/lib/uhttpd_ucode.so", "prefix/lib/rpcd/ucode.so", "prefix/lib/ucode/uci.so",
            "rpcd/unauthenticated.json", "luci/modules/luci-base/src/core.so",
            "luci/modules/luci-base/src/po2lmo", "luci/themes/luci-theme-bootstrap")
    return host if all((host / n).exists() for n in need) else None


LANGUAGES = {"en": "English", "zh_cn": "简体中文 (Chinese Simplified)"}


class LuciRouter:
    """OpenWrt's ubusd, rpcd and uhttpd serving LuCI with luci-app-hotspot in `lab`'s router namespace,
    for `logins` (/etc/config/rpcd). Its /etc/config is `config_dir`: rpcd, luci and `hotspot` (the
    config hotspotd and hotspotctl read, which LuCI's Settings write)."""

    def __init__(self, lab, host: Path, logins: list[Login]) -> None:
        self.lab, self.host, self.logins = lab, Path(host), logins
        self.prefix, self.luci = self.host / "prefix", self.host / "luci"
        self.dir = Path(lab.dir) / "luci"
        self.config_dir = Path(lab.dir) / "etc-config"
        self.hotspot_config = self.config_dir / "hotspot"
        self.socket = self.dir / "ubus.sock"
        self.url = f"http://{lab.router4}:{PORT}"
        self.proc: subprocess.Popen | None = None

    def adopt(self, hotspotd) -> None:
        """Make the router's /etc/config/hotspot the config of `hotspotd` (not started yet, made with
        ubus_socket=str(self.socket)), and give it OpenWrt's ubus to ask rpcd with."""
        self.config_dir.mkdir(exist_ok=True)
        shutil.copy(hotspotd.config_path, self.hotspot_config)
        hotspotd.config_path = self.hotspot_config
        hotspotd.extra_env.update(PATH=f"{self.prefix / 'bin'}:{os.environ['PATH']}",
                                  LD_LIBRARY_PATH=str(self.prefix / "lib"))

    # -- the router's files, where OpenWrt puts them ---------------------------------------------------

    def _files(self) -> None:
        d, luci, base = self.dir, self.luci, self.luci / "modules/luci-base"
        theme = luci / "themes/luci-theme-bootstrap"
        shutil.rmtree(d, ignore_errors=True)
        self.config_dir.mkdir(exist_ok=True)
        share, lib, www = d / "usr/share", d / "usr/lib", d / "www"
        # LuCI's ucode: the dispatcher, its templates and the theme's
        shutil.copytree(base / "ucode", share / "ucode/luci")
        shutil.copytree(theme / "ucode/template/themes", share / "ucode/luci/template/themes")
        (share / "ucode/luci/version.uc").write_text("export const revision = 'lab', branch = 'LuCI';\n")
        (lib / "ucode/luci").mkdir(parents=True)
        shutil.copy(base / "src/core.so", lib / "ucode/luci/core.so")
        # the menu, the ACLs (rpcd's own unauthenticated.json, luci-base's, the app's) and the plugins
        (share / "luci/menu.d").mkdir(parents=True)
        for menu in [*(base / "root/usr/share/luci/menu.d").glob("*.json"),
                     APP / "root/usr/share/luci/menu.d/luci-app-hotspot.json"]:
            shutil.copy(menu, share / "luci/menu.d" / menu.name)
        (d / "acl.d").mkdir()
        for acl in [self.host / "rpcd/unauthenticated.json",
                    APP / "root/usr/share/rpcd/acl.d/luci-app-hotspot.json",
                    *(base / "root/usr/share/rpcd/acl.d").glob("*.json")]:
            shutil.copy(acl, d / "acl.d" / acl.name)
        shutil.copytree(base / "root/usr/share/rpcd/ucode", d / "rpcd-ucode")
        (d / "libexec").mkdir()
        plugin = d / "libexec/luci.hotspot"
        shutil.copy(APP / "root/usr/libexec/rpcd/luci.hotspot", plugin)
        plugin.chmod(0o755)
        # procd's `system` object (its `board`, which LuCI's page header reads) is not run here: this
        # exec plugin answers `board` as procd would on a lab router
        system = d / "libexec/system"
        system.write_text(SYSTEM_PLUGIN)
        system.chmod(0o755)
        # rpcd runs the plugin, which runs hotspotctl from PATH on /etc/config/hotspot, as on a router
        (d / "bin").mkdir()
        ctl = d / "bin/hotspotctl"
        ctl.write_text(f'#!/bin/sh\nexec {sys.executable} -m hotspot.cli "$@"\n')
        ctl.chmod(0o755)
        # the translations, compiled as luci.mk compiles them
        (lib / "lua/luci/i18n").mkdir(parents=True)
        for po, name in ((base / "po/zh_Hans/base.po", "base"), (APP / "po/zh_Hans/hotspot.po", "hotspot")):
            subprocess.run([str(base / "src/po2lmo"), str(po), str(lib / f"lua/luci/i18n/{name}.zh-cn.lmo")],
                           check=True, capture_output=True)
        # the web root
        shutil.copytree(base / "htdocs/luci-static", www / "luci-static")
        shutil.copytree(theme / "htdocs/luci-static", www / "luci-static", dirs_exist_ok=True)
        shutil.copytree(APP / "htdocs/luci-static", www / "luci-static", dirs_exist_ok=True)
        shutil.copy(base / "root/www/index.html", www / "index.html")
        # /etc/config: the logins, LuCI's own config (as luci-base and the theme leave it installed)
        rpcd = []
        for login in self.logins:
            rpcd += ["config login", f"\toption username '{login.name}'",
                     f"\toption password '{crypt(login.password)}'"]
            rpcd += [f"\tlist read '{g}'" for g in login.read] + [f"\tlist write '{g}'" for g in login.write]
            rpcd.append("")
        (self.config_dir / "rpcd").write_text("\n".join(rpcd))
        config = (base / "root/etc/config/luci").read_text()
        config = config.replace("config internal languages\n", "config internal languages\n" + "".join(
            f"\toption {code} '{name}'\n" for code, name in LANGUAGES.items()))
        config = config.replace("config internal themes\n",
                                "config internal themes\n\toption Bootstrap '/luci-static/bootstrap'\n")
        (self.config_dir / "luci").write_text(config)

    # -- the processes --------------------------------------------------------------------------------

    def start(self) -> LuciRouter:
        self._files()
        p, d = self.prefix, self.dir
        lab_dir = Path(self.lab.dir)
        # a /tmp of their own (LuCI caches its index there), keeping the lab's and the pieces' folders
        kept = [path for path in (lab_dir, self.host.resolve()) if path.is_relative_to("/tmp")]
        away = [f"mkdir -p /run/keep/{i}\nmount --rbind {path} /run/keep/{i}" for i, path in enumerate(kept)]
        back = [f"mkdir -p {path}\nmount --move /run/keep/{i} {path}" for i, path in enumerate(kept)]
        keep = "\n".join([*away, "mount -t tmpfs tmpfs /tmp", *back])
        script = f"""set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/o/etc/u/config /run/o/etc/w /run/keep /var/run/ubus {d}/work/share {d}/work/lib
mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/o/etc/u,workdir=/run/o/etc/w /etc
mount --bind {self.config_dir} /etc/config
mount -t overlay overlay -o lowerdir=/usr/share,upperdir={d}/usr/share,workdir={d}/work/share /usr/share
mount -t overlay overlay -o lowerdir=/usr/lib,upperdir={d}/usr/lib,workdir={d}/work/lib /usr/lib
mount --bind {d}/acl.d {p}/share/rpcd/acl.d
mount --bind {d}/rpcd-ucode {p}/share/rpcd/ucode
mount --bind {d}/libexec {p}/libexec/rpcd
{keep}
ln -s {self.socket} /var/run/ubus/ubus.sock
export PATH={d}/bin:$PATH LD_LIBRARY_PATH={p}/lib
{p}/sbin/ubusd -s {self.socket} &
while [ ! -S {self.socket} ]; do sleep 0.05; done
{p}/sbin/rpcd -s {self.socket} &
exec {p}/bin/uhttpd -f -p 0.0.0.0:{PORT} -h {d}/www -x /cgi-bin -u /ubus -U {self.socket} \\
    -o /cgi-bin/luci -O /usr/share/ucode/luci/uhttpd.uc -t 60 -T 30 -k 20 -A 1 -n 8 -N 100 -R
"""
        (d / "start.sh").write_text(script)
        for sub in ("share/rpcd/acl.d", "share/rpcd/ucode", "libexec/rpcd"):
            (p / sub).mkdir(parents=True, exist_ok=True)  # the mount points in the build's prefix
        self.log = open(lab_dir / "luci.log", "w")  # noqa: SIM115 (open while the processes run)
        self.proc = self.lab.popen(self.lab.router, "unshare", "-m", "--propagation", "private", "sh",
                                   str(d / "start.sh"), stdout=self.log, stderr=self.log,
                                   start_new_session=True)
        self.lab.wait_for(self._up, 15, "ubusd, rpcd and uhttpd")
        return self

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the LuCI router exited: {Path(self.log.name).read_text()[-2000:]}")
        try:
            return "luci.hotspot" in self.ubus("list") and self.lab.run(
                self.lab.router, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", self.url + "/",
                check=False).stdout == "200"
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


# What procd's `ubus call system board` answers on a router, for the lab's.
SYSTEM_PLUGIN = """#!/bin/sh
case "$1" in
list) echo '{"board":{}}' ;;
call) echo '{"kernel":"lab","hostname":"hotspot-lab","system":"lab","model":"hotspot lab router",
  "board_name":"lab","rootfs_type":"ext4","release":{"distribution":"OpenWrt","version":"lab",
  "revision":"lab","target":"x86/64","description":"OpenWrt pieces in the hotspot lab"}}' ;;
esac
"""
