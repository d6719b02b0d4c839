"""The packages staged as Py3Package installs them (openwrt/stage.py): bytecode only, each file in one
package, the installed files where the code looks for them, and the sizes docs/openwrt.md gives."""

from __future__ import annotations

import json
import marshal
import re
import subprocess
from pathlib import Path

import pytest

from tests.openwrt.repo import OPENWRT, ROOT, importguard, load
from tests.openwrt.test_shell_style import tool

stage = load("openwrt_stage", OPENWRT / "stage.py")
PACKAGES = ["hotspot", "hotspot-portal", "hotspot-snoop", "python3-nftables", "python3-gunicorn",
            "python3-blinker"]


@pytest.fixture(scope="module")
def staged() -> Path:
    return stage.stage()


def site(tree: Path) -> Path:
    return tree / "usr" / "lib" / f"python{stage.python_version()}" / "site-packages"


def test_every_package_is_staged_and_bytecode_only(staged):
    magic = subprocess.run([stage.PYTHON, "-c", "import importlib.util, sys; "
                            "sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
                           capture_output=True, text=True, check=True).stdout
    for name in PACKAGES:
        tree = staged / name
        assert not list(tree.rglob("*.py")), name
        compiled = list(tree.rglob("*.pyc"))
        assert compiled, name
        assert not list(tree.rglob("__pycache__")), "compileall -b writes beside the module"
        for pyc in compiled:
            data = pyc.read_bytes()
            assert data[:4].hex() == magic, pyc
        # compiled with -d /: tracebacks name the router's path
        code = marshal.loads(compiled[0].read_bytes()[16:])
        assert code.co_filename.startswith(f"/usr/lib/python{stage.python_version()}/site-packages/")


def test_each_package_holds_its_part(staged):
    hotspot, portal, snoop = (site(staged / n) / "hotspot" for n in PACKAGES[:3])
    assert (hotspot / "daemon" / "main.pyc").is_file() and (hotspot / "portal" / "hotspotd.pyc").is_file()
    assert sorted(p.name for p in (hotspot / "portal").iterdir()) == ["__init__.pyc", "hotspotd.pyc"]
    assert not (hotspot / "apps" / "snoop" / "snooper.pyc").exists()
    assert (portal / "portal" / "wsgi.pyc").is_file() and (portal / "portal" / "worker.pyc").is_file()
    assert [p.relative_to(snoop) for p in snoop.rglob("*") if p.is_file()] == [Path("apps/snoop/snooper.pyc")]
    share = staged / "hotspot" / "usr/share/hotspot"
    assert sorted(p.name for p in share.iterdir()) == ["categories.conf", "hook.nft", "hotspot.nft", "web"]
    assert (share / "web/translations/zh_CN/LC_MESSAGES/messages.mo").is_file()
    assert sorted(p.name for p in (share / "web/templates").iterdir()) == ["email"]
    web = staged / "hotspot-portal" / "usr/share/hotspot/web"
    assert (web / "templates/client.html").is_file() and (web / "static/portal.css").is_file()
    assert not (web / "templates/email").exists() and not list(web.rglob("*.po"))
    for script in ("hotspotd", "hotspotctl"):
        path = staged / "hotspot" / "usr/bin" / script
        assert path.read_text().startswith("#!/usr/bin/python3\n") and path.stat().st_mode & 0o111
    assert (staged / "hotspot" / "etc/config/hotspot").stat().st_mode & 0o777 == 0o600
    assert (staged / "hotspot" / "etc/uci-defaults/95-hotspot").stat().st_mode & 0o777 == 0o755


def test_no_file_is_in_two_packages(staged):
    seen: dict[str, str] = {}
    for name in PACKAGES:
        for f in stage.files(staged / name):
            assert f not in seen, f"{f} in {seen.get(f)} and {name}"
            seen[f] = name


def test_the_guards_own_import_names_are_what_the_packages_install(staged):
    for module, (package,) in importguard.OWN_DISTRIBUTIONS.items():
        tops = {p.name.removesuffix(".pyc") for p in site(staged / package).iterdir()
                if not p.name.endswith(".dist-info")}
        assert tops == {module}, package


def test_the_pinned_wheels_are_the_versions_the_makefiles_name():
    assert {stage.pypi_pin(p) for p in ("python3-gunicorn", "python3-blinker")} == set(stage.PYPI_WHEELS)


def test_a_filespec_refuses_what_the_feeds_script_refuses(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "usr/lib/x").mkdir(parents=True)
    (src / "usr/lib/x/a.py").write_text("")
    (src / "usr/lib/x/b.py").write_text("")
    stage.filespec("+|/usr/lib/x|0600|0700\n# a comment\n-|/usr/lib/x/b.py\n", src, dest)
    assert [p.name for p in (dest / "usr/lib/x").iterdir()] == ["a.py"]
    assert (dest / "usr/lib/x/a.py").stat().st_mode & 0o777 == 0o600
    assert (dest / "usr/lib/x").stat().st_mode & 0o777 == 0o700
    for bad, why in [("+|/usr/lib/nope", "not found"), ("-|/usr/lib/x/b.py", "not found"),
                     ("=|/usr/lib/x", "no modes"), ("*|/usr/lib/x", "unknown command"), ("+|", "no path")]:
        with pytest.raises(stage.StageError, match=why):
            stage.filespec(bad, src, dest)


def test_docs_give_the_installed_sizes_as_staged(staged):
    """docs/openwrt.md's table of sizes, within 10 % of what the staged packages take."""
    text = (ROOT / "docs" / "openwrt.md").read_text()
    sizes = json.loads((staged / "sizes.json").read_text())
    for name in PACKAGES:
        m = re.search(rf"^\| `{re.escape(name)}` \| [^|]* \| ([\d,]+) kB \|", text, re.M)
        assert m, f"docs/openwrt.md has no size for {name}"
        documented = int(m.group(1).replace(",", "")) * 1000
        assert abs(documented - sizes[name]["bytes"]) <= 0.1 * sizes[name]["bytes"], (name, sizes[name])



def test_the_prerm_is_clean_busybox_shell(tmp_path):
    """hotspot's prerm, as the package carries it, passes the checks openwrt/files' scripts pass."""
    script = tmp_path / "hotspot.prerm"
    script.write_text(stage.maintainer_script("hotspot", "prerm") + "\n")  # a file ends its last line
    assert script.read_text().startswith("#!/bin/sh\n") and "$$" not in script.read_text()
    for argv in (["shellcheck", "-s", "busybox"], ["shfmt", "-sr", "-s", "-d"], ["busybox", "sh", "-n"]):
        done = subprocess.run([tool(argv[0]), *argv[1:], str(script)], capture_output=True, text=True)
        assert done.returncode == 0, (argv[0], done.stdout + done.stderr)


@pytest.mark.parametrize(("package", "code"), [
    ("python3-gunicorn", "import gunicorn.app.wsgiapp, gunicorn.arbiter, gunicorn.http, gunicorn.sock, "
                         "gunicorn.glogging, gunicorn.workers.base, gunicorn.util; "
                         "print(gunicorn.__version__)"),
    ("python3-nftables", "import nftables; n = nftables.Nftables(); n.set_json_output(True); print('ok')"),
    ("python3-blinker", "import blinker; print(blinker.Namespace().signal('x').name)"),
])
def test_each_package_of_what_the_feed_lacks_runs_on_its_own_depends(staged, tmp_path, package, code):
    """Its modules, from its staged tree, with only what its DEPENDS line installs: nothing refused, even
    inside a try/except, but shutil's lzma (python3-lzma), which every process goes without."""
    root = stage.rootfs(staged, [package], tmp_path / "root")
    log = tmp_path / "refused.log"
    guard = importguard.write_site(tmp_path / "guard", "openwrt-24.10", [("", f"+{package}")],
                                   log=str(log), site=str(site(root)))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": f"{guard}:{site(root)}"}
    done = subprocess.run([stage.PYTHON, "-c", code], capture_output=True, text=True, timeout=60, cwd="/",
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("26.1.0", "ok", "x")
    refused = {line.split()[1] for line in log.read_text().splitlines()} if log.exists() else set()
    assert refused <= {"lzma"}, log.read_text()
