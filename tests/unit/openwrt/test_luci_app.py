"""luci-app-hotspot's files: what generate.py makes from hotspot's declarations is committed as it
makes it, every text the views show has its Chinese, the menu and the ACL agree with the plugin, and
the ACL grants no more than the pages use. (The plugin's shellcheck and shfmt: tests/openwrt.)"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "openwrt" / "luci-app-hotspot"
PLUGIN = APP / "root/usr/libexec/rpcd/luci.hotspot"
ACL = APP / "root/usr/share/rpcd/acl.d/luci-app-hotspot.json"
MENU = APP / "root/usr/share/luci/menu.d/luci-app-hotspot.json"


def generate():
    spec = importlib.util.spec_from_file_location("luci_generate", APP / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["options.json", "hotspot.pot", "hotspot.po"])
def test_generated_files_are_committed_as_generate_makes_them(name):
    made = {path.name: (path, text) for path, text in generate().files().items()}
    path, text = made[name]
    stale = f"{path.relative_to(ROOT)} is stale: python3 openwrt/luci-app-hotspot/generate.py"
    assert path.read_text() == text, stale


def test_settings_are_the_options_the_owner_may_set():
    from hotspot.config import Config

    doc = json.loads((APP / "htdocs/luci-static/resources/hotspot/options.json").read_text())
    on_a_form = [n for n, o in Config.schema.options.items() if o.admin and o.admin.form]
    assert [o["name"] for o in doc["options"]] == on_a_form
    assert {o["tab"] for o in doc["options"]} == {t["name"] for t in doc["tabs"]}
    period_start = next(o for o in doc["options"] if o["name"] == "plan_period_start")
    assert period_start["check"]["by"]["weekly"] == {"kind": "range", "min": 1, "max": 7, "integer": True}


def test_a_parser_the_app_does_not_know_fails_the_generator():
    with pytest.raises(TypeError, match="does not know the parser"):
        generate().check_of(lambda v: v)


def test_every_text_has_its_chinese():
    g = generate()
    zh = g.read_po(g.ZH)
    missing = [t for t in g.read_po(g.POT) if t and not zh.get(t)]
    assert not missing
    for msgid, msgstr in zh.items():  # the same placeholders, in the same order
        assert re.findall(r"%[sd%]", msgid) == re.findall(r"%[sd%]", msgstr), msgid


def test_the_acl_grants_exactly_the_plugins_methods_and_only_hotspots_config():
    listed = json.loads(subprocess.run(["sh", str(PLUGIN), "list"], capture_output=True, text=True,
                                       check=True).stdout)
    acl = json.loads(ACL.read_text())
    assert list(acl) == ["luci-app-hotspot"]
    group = acl["luci-app-hotspot"]
    assert set(group) == {"description", "read", "write"}
    for access in ("read", "write"):
        assert set(group[access]) == {"ubus", "uci"}, "no file, cgi-io or other object access"
        assert list(group[access]["ubus"]) == ["luci.hotspot"]
        assert group[access]["uci"] == ["hotspot"]
    read, write = (set(group[a]["ubus"]["luci.hotspot"]) for a in ("read", "write"))
    assert read == {"status", "clients"} and write == {"act", "check"}
    assert read | write == set(listed)


def test_the_menu_shows_the_views_under_services_to_whom_the_acl_allows():
    menu = json.loads(MENU.read_text())
    views = {e["action"]["path"] for e in menu.values() if e["action"]["type"] == "view"}
    assert views == {"hotspot/overview", "hotspot/settings"}
    for path in views:
        assert (APP / f"htdocs/luci-static/resources/view/{path}.js").is_file()
    top = menu["admin/services/hotspot"]
    assert top["depends"]["acl"] == ["luci-app-hotspot"]
    assert top["action"] == {"type": "alias", "path": "admin/services/hotspot/overview"}


def test_the_views_call_only_what_the_acl_grants():
    acl = json.loads(ACL.read_text())["luci-app-hotspot"]
    granted = {m for a in ("read", "write") for m in acl[a]["ubus"]["luci.hotspot"]}
    called = set()
    for js in (APP / "htdocs/luci-static/resources/view/hotspot").glob("*.js"):
        text = js.read_text()
        outside = re.search(r"'require fs'|object: '(?!luci\.hotspot)", text)
        assert not outside, f"{js.name} calls outside its ACL"
        called |= set(re.findall(r"object: 'luci\.hotspot', method: '(\w+)'", text))
    assert called == granted  # nothing granted that no page uses


@pytest.mark.parametrize("shell", [["sh"], ["busybox", "sh"]], ids=["dash", "busybox"])
def test_the_plugin_parses_in_both_shells(shell):
    assert subprocess.run([*shell, "-n", str(PLUGIN)], capture_output=True).returncode == 0
