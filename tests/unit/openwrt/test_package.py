"""The OpenWrt package in openwrt/: shell scripts that parse and behave, a Makefile that ships every file."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OPENWRT = ROOT / "openwrt"
FILES = OPENWRT / "files"
MAKEFILE = OPENWRT / "Makefile"
SCRIPTS = ["hotspot.init", "hotspot.hotplug", "hotspot.uci-defaults"]
# OpenWrt's shell is busybox ash; Debian's sh is dash. Both must accept the scripts.
SHELLS = [["sh"]] + ([["busybox", "sh"]] if shutil.which("busybox") else [])


def sh(script: str, *, cwd: Path = FILES, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SHELLS[-1], "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=10)


# -- shell scripts -------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
@pytest.mark.parametrize("name", SCRIPTS)
def test_script_parses(shell, name):
    proc = subprocess.run([*shell, "-n", str(FILES / name)], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_parse_check_catches_errors(shell, tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("start_service() {\n\tif [ x ]; then\n}\n")
    assert subprocess.run([*shell, "-n", str(bad)], capture_output=True).returncode != 0


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_has_a_shebang(name):
    first = (FILES / name).read_text().splitlines()[0]
    assert first in ("#!/bin/sh", "#!/bin/sh /etc/rc.common")


def test_init_script_is_procd():
    text = (FILES / "hotspot.init").read_text()
    assert text.startswith("#!/bin/sh /etc/rc.common\n")
    assert re.search(r"^USE_PROCD=1$", text, re.M)
    assert re.search(r"^START=95$", text, re.M)
    respawn = "\"${respawn_threshold:-3600}\" \"${respawn_timeout:-5}\" \"${respawn_retry:-5}\""
    assert f"procd_set_param respawn {respawn}\n" in text
    assert 'procd_add_reload_trigger "hotspot"' in text
    assert 'procd_add_interface_trigger "interface.*" lan /etc/init.d/hotspot reload' in text
    assert "hotspotctl teardown" in text  # says how to remove the table that stop leaves


# Stand-ins for rc.common, procd.sh and functions.sh: each procd call prints what it was asked.
STUBS = r"""
procd_open_instance() { echo "open"; }
procd_set_param() { echo "param $*"; }
procd_close_instance() { echo "close"; }
procd_add_reload_trigger() { echo "reload-trigger $*"; }
procd_add_interface_trigger() { echo "interface-trigger $*"; }
stop() { echo "stop"; }
start() { echo "start"; }
nft() { echo "FORBIDDEN nft $*"; }
hotspotctl() { echo "FORBIDDEN hotspotctl $*"; }
config_load() { CFG="$1"; }
config_foreach() {
	case "$CFG:$2" in
	hotspot:hotspot) "$1" main ;;
	network:interface) for s in loopback lan wan wan6 wwan legacy; do "$1" "$s"; done ;;
	esac
}
config_get() {
	case "$CFG.$2.$3" in
	hotspot.main.wan_device) val="wwan0 eth1" ;;
	network.loopback.device) val=lo ;;
	network.lan.device) val=br-lan ;;
	network.wan.device) val=eth1 ;;
	network.wan6.device) val=@wan ;;
	network.wwan.device) val=/dev/cdc-wdm0 ;;
	network.legacy.ifname) val=wwan0 ;;
	*) val="$4" ;;
	esac
	eval "$1=\$val"
}
list_contains() { local var="$1" str="$2" val; eval "val=\" \${$var} \""; [ "${val%% $str *}" != "$val" ]; }
. ./hotspot.init
"""


def test_init_start_service_runs_the_daemon_under_procd():
    proc = sh(STUBS + "start_service")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "open",
        "param command /usr/bin/hotspotd -c /etc/config/hotspot",
        "param respawn 3600 5 5",
        "param term_timeout 30",
        "param limits nofile=4096 4096",
        "param file /etc/config/hotspot",
        "param netdev br-lan wwan0 eth1",
        "param stdout 1",
        "param stderr 1",
        "close",
    ]


def test_init_respawn_can_be_tuned():
    proc = sh(STUBS + "respawn_threshold=60 respawn_retry=0; start_service")
    assert "param respawn 60 5 0" in proc.stdout.splitlines()


def test_init_triggers():
    proc = sh(STUBS + "service_triggers")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "reload-trigger hotspot",
        "interface-trigger interface.* lan /etc/init.d/hotspot reload",
        # the netifd interfaces whose device is a wan_device (eth1, and wwan0 by the legacy ifname)
        "interface-trigger interface.*.up wan /etc/init.d/hotspot reload",
        "interface-trigger interface.*.up legacy /etc/init.d/hotspot reload",
    ]


def test_init_stop_leaves_the_kernel_table_and_reload_is_procds():
    """No reload_service: rc.common's reload sends procd the instance again, and procd restarts
    hotspotd only when its config file or one of its devices changed."""
    proc = sh(STUBS + "stop_service && echo stopped; type reload_service > /dev/null 2>&1 || echo none")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["stopped", "none"]


def test_hotplug_reloads_on_ifup_of_a_wan_device():
    text = (FILES / "hotspot.hotplug").read_text()
    assert '[ "$ACTION" = ifup ] || exit 0' in text
    assert "config_get devs \"$1\" wan_device" in text
    assert 'list_contains hotspot_wan "$DEVICE" || exit 0' in text
    assert "/etc/init.d/hotspot reload" in text


@pytest.mark.parametrize("action", ["ifdown", "ifupdate", ""])
def test_hotplug_ignores_other_actions(action):
    proc = sh(STUBS.replace(". ./hotspot.init", "") + f"ACTION={action} DEVICE=eth1 INTERFACE=wan; "
              ". ./hotspot.hotplug; echo not-reached")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


# -- uci-defaults --------------------------------------------------------------------------------

FW = "firewall.@defaults[0]"
FAKE_UCI = """#!/bin/sh
echo "uci $*" >> "$CALLS"
[ "$1" = -q ] && shift
case "$1" in
get) grep -F "$2=" "$STATE" | cut -d= -f2- | grep . || exit 1 ;;
esac
exit 0
"""


@pytest.fixture
def fake_openwrt(tmp_path):
    """A PATH with uci (answering from a state file), logger and nft that record their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uci").write_text(FAKE_UCI)
    (bin_dir / "logger").write_text('#!/bin/sh\necho "logger $*" >> "$CALLS"\n')
    (bin_dir / "nft").write_text('#!/bin/sh\necho "nft $*" >> "$CALLS"\nexit 1\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    calls, state = tmp_path / "calls", tmp_path / "state"
    calls.touch()

    def run(firewall: str) -> list[str]:
        state.write_text(firewall)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), "STATE": str(state)}
        proc = subprocess.run([*SHELLS[-1], str(FILES / "hotspot.uci-defaults")], env=env,
                              capture_output=True, text=True, timeout=10)
        assert (proc.returncode, proc.stderr) == (0, "")
        return calls.read_text().splitlines()

    return run


def test_uci_defaults_turns_flow_offloading_off(fake_openwrt):
    calls = fake_openwrt(f"{FW}.flow_offloading=1\n{FW}.flow_offloading_hw=1\n")
    assert f"uci -q set {FW}.flow_offloading=0" in calls
    assert f"uci -q set {FW}.flow_offloading_hw=0" in calls
    assert calls.count("uci commit firewall") == 1
    assert calls.index("uci commit firewall") > calls.index(f"uci -q set {FW}.flow_offloading_hw=0")
    logs = [c for c in calls if c.startswith("logger ")]
    assert logs == ["logger -t hotspot turned off flow_offloading flow_offloading_hw in "
                    "/etc/config/firewall: offloaded flows would bypass hotspot's counters and caps"]


def test_uci_defaults_turns_off_only_what_is_on(fake_openwrt):
    calls = fake_openwrt(f"{FW}.flow_offloading=on\n{FW}.flow_offloading_hw=0\n")
    assert [c for c in calls if " set " in c] == [f"uci -q set {FW}.flow_offloading=0"]
    assert "uci commit firewall" in calls


@pytest.mark.parametrize("firewall", ["firewall.@defaults[0].flow_offloading=0\n", "", "other.x.y=1\n"])
def test_uci_defaults_changes_nothing_when_offloading_is_off(fake_openwrt, firewall):
    calls = fake_openwrt(firewall)
    assert not [c for c in calls if " set " in c or "commit" in c or c.startswith("logger")]


# -- the package Makefile ------------------------------------------------------------------------


def makefile() -> str:
    return MAKEFILE.read_text()


def define(name: str) -> list[str]:
    m = re.search(rf"^define {re.escape(name)}\n(.*?)^endef$", makefile(), re.M | re.S)
    assert m, f"no define {name}"
    return m.group(1).splitlines()


def test_makefile_is_an_openwrt_python_package():
    text = makefile()
    assert text.index("include $(TOPDIR)/rules.mk") < text.index("include $(INCLUDE_DIR)/package.mk")
    assert "../../lang/python/python3-package.mk" in text
    assert "$(eval $(call Py3Package,hotspot))" in text
    assert "$(eval $(call BuildPackage,hotspot))" in text
    assert re.search(r"^PKG_NAME:=hotspot$", text, re.M)
    for var in ("PKG_VERSION", "PKG_RELEASE", "PKG_LICENSE"):
        assert re.search(rf"^{var}:=\S+$", text, re.M), var


def test_makefile_version_matches_setup_cfg():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    m = re.search(r"^PKG_VERSION:=(\S+)$", makefile(), re.M)
    assert m and m.group(1) == setup["metadata"]["version"]


def depends_of(package: str) -> list[str]:
    lines = define(f"Package/{package}")
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("DEPENDS:="))
    text = lines[start].split(":=", 1)[1]
    while text.rstrip().endswith("\\"):  # continued lines
        start += 1
        text = text.rstrip()[:-1] + " " + lines[start]
    deps = text.split()
    assert all(d.startswith("+") for d in deps), deps
    return deps


def test_makefile_dependencies():
    """hotspot runs alone: the portal's and the snooper's heavy dependencies are in their packages."""
    core = depends_of("hotspot")
    for dep in ("+python3-light", "+python3-sqlite3", "+python3-logging", "+python3-decimal",
                "+python3-nftables", "+nftables-json", "+kmod-sched-core", "+tc-tiny"):
        assert dep in core, dep
    assert not {"+python3-flask", "+python3-gunicorn", "+scapy", "+python3"} & set(core)
    assert depends_of("hotspot-portal") == ["+hotspot", "+python3-flask", "+python3-blinker",
                                            "+python3-gunicorn"]
    assert depends_of("hotspot-snoop") == ["+hotspot"]  # a packet socket: nothing beyond hotspot's


def test_makefile_installs_every_file_in_openwrt_files():
    install = "\n".join(define("Py3Package/hotspot/install"))
    shipped = sorted(p.name for p in FILES.iterdir())
    assert shipped == sorted(["hotspot.config", *SCRIPTS])
    for name in shipped:
        assert f"./files/{name} " in install, f"{name} is not installed"


@pytest.mark.parametrize(
    "source, mode, target",
    [
        ("./files/hotspot.init", "INSTALL_BIN", "$(1)/etc/init.d/hotspot"),
        ("./files/hotspot.config", "INSTALL_CONF", "$(1)/etc/config/hotspot"),
        ("./files/hotspot.hotplug", "INSTALL_DATA", "$(1)/etc/hotplug.d/iface/95-hotspot"),
        ("./files/hotspot.uci-defaults", "INSTALL_BIN", "$(1)/etc/uci-defaults/95-hotspot"),
    ],
)
def test_makefile_install_targets(source, mode, target):
    assert f"\t$({mode}) {source} {target}" in define("Py3Package/hotspot/install")
    directory = target.rsplit("/", 1)[0]
    assert f"\t$(INSTALL_DIR) {directory}" in define("Py3Package/hotspot/install")


def test_installed_ruleset_is_where_nft_py_looks():
    assert '"/usr/share/hotspot"' in (ROOT / "hotspot" / "kernel" / "nft.py").read_text()
    assert sorted(p.name for p in (ROOT / "nft").iterdir()) == ["hook.nft", "hotspot.nft"]


def test_makefile_installs_both_commands():
    install = "\n".join(define("Py3Package/hotspot/install"))
    assert "$(PKG_INSTALL_DIR)/usr/bin/hotspotd" in install
    assert "$(PKG_INSTALL_DIR)/usr/bin/hotspotctl" in install
    scripts = configparser.ConfigParser()
    scripts.read(ROOT / "setup.cfg")
    lines = scripts["options.entry_points"]["console_scripts"].splitlines()
    names = {line.split("=")[0].strip() for line in lines if line.strip()}
    assert names == {"hotspotd", "hotspotctl"}


def test_the_lab_is_not_in_the_package():
    """The lab drives network namespaces for the tests: it lives beside the package, not in it."""
    assert not (ROOT / "hotspot" / "lab").exists() and (ROOT / "lab" / "__init__.py").exists()
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert setup["options.packages.find"]["include"].split(", ") == ["hotspot", "hotspot.*"]
    assert define("Py3Package/hotspot/filespec")[0] == "+|$(PYTHON3_PKG_DIR)"


def test_makefile_keeps_config_and_state_across_upgrades():
    assert define("Package/hotspot/conffiles") == ["/etc/config/hotspot", "/etc/hotspot/categories.conf"]
    assert "\techo /etc/hotspot/ > $(1)/lib/upgrade/keep.d/hotspot" in define("Py3Package/hotspot/install")


@pytest.mark.parametrize("name", ["Build/Prepare", "Py3Package/hotspot/install",
                                  "Py3Package/hotspot-portal/install"])
def test_makefile_recipes_are_tab_indented(name):
    lines = define(name)
    assert lines
    for line in lines:
        assert line.startswith("\t"), f"recipe line without a tab: {line!r}"
