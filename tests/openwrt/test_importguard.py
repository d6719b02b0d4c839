"""The import guard (openwrt/importguard.py) in real Python processes, loaded the way the lab loads it:
openwrt/guard-site on PYTHONPATH, the DEPENDS line in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.openwrt.repo import BRANCHES, OPENWRT, ROOT, importguard


def run(code: str, depends: str | None, branch="openwrt-25.12", log=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENWRT_GUARD_")}
    env.update(PYTHONPATH=str(OPENWRT / "guard-site"), OPENWRT_GUARD_BRANCH=branch)
    if depends is not None:
        env["OPENWRT_GUARD_DEPENDS"] = depends
    if log is not None:
        env["OPENWRT_GUARD_LOG"] = str(log)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("branch", BRANCHES)
def test_sqlite3_is_refused_without_python3_sqlite3_and_imports_with_it(branch):
    script = "import sqlite3; print(sqlite3.connect(':memory:').execute('select 6*7').fetchone()[0])"
    refused = run(script, "+python3-light +python3-logging", branch)
    assert refused.returncode == 1
    python = "3.11" if branch == "openwrt-24.10" else "3.13"
    assert (f"ModuleNotFoundError: import sqlite3 refused on OpenWrt {branch} (Python {python}): it is in "
            "python3-sqlite3, which DEPENDS (+python3-light +python3-logging) does not pull in"
            ) in refused.stderr
    allowed = run(script, "+python3-light +python3-sqlite3", branch)
    assert (allowed.returncode, allowed.stdout) == (0, "42\n"), allowed.stderr


def test_a_module_of_python3_light_needs_only_python3_light():
    done = run("import json, socket, selectors, hmac, zlib; print('ok')", "+python3-light")
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def test_a_submodule_is_held_by_its_top_package():
    refused = run("import xml.etree.ElementTree", "+python3-light")
    assert "import xml refused" in refused.stderr and "it is in python3-xml" in refused.stderr
    assert run("import xml.etree.ElementTree", "+python3-light +python3-xml").returncode == 0


def test_without_python3_openssl_hashlib_falls_back_as_on_the_router(tmp_path):
    """hashlib imports _hashlib (python3-openssl) inside try/except: without the package it loads with
    its builtin hashes and no scrypt, as on the router; the refusal still reaches the log."""
    log = tmp_path / "refused.log"
    script = "import hashlib; print(hasattr(hashlib, 'scrypt'), hashlib.sha256(b'x').hexdigest()[:8])"
    lean = run(script, "+python3-light", log=log)
    assert (lean.returncode, lean.stdout) == (0, "False 2d711642\n"), lean.stderr
    assert "import _hashlib refused" in log.read_text()
    full = run(script, "+python3-light +python3-openssl")
    assert (full.returncode, full.stdout) == (0, "True 2d711642\n"), full.stderr
    assert "import ssl" not in run("import ssl", "+python3-light +python3-openssl").stderr
    assert "it is in python3-openssl" in run("import ssl", "+python3-light").stderr


def test_a_third_party_module_needs_its_feed_package_and_brings_its_dependencies():
    refused = run("import flask", "+python3-light")
    assert "import flask refused" in refused.stderr and "it is in python3-flask" in refused.stderr
    # python3-flask's own DEPENDS bring jinja2, werkzeug, markupsafe, itsdangerous and click.
    allowed = run("import flask, jinja2, werkzeug, markupsafe, itsdangerous, click; print('ok')",
                  "+python3-light +python3-flask")
    assert (allowed.returncode, allowed.stdout) == (0, "ok\n"), allowed.stderr


def test_a_module_no_feed_package_provides_is_refused_by_name():
    """Debian has python3-dbusmock; no OpenWrt package does."""
    refused = run("import dbusmock", "+python3-light +python3-flask")
    assert ("import dbusmock refused on OpenWrt openwrt-25.12 (Python 3.13): no package of the OpenWrt feed "
            "(openwrt-25.12) provides it") in refused.stderr


def test_what_the_feed_lacks_comes_from_the_projects_own_packages():
    """gunicorn left the feed in 2022: the project's python3-gunicorn (openwrt/python-gunicorn) has it."""
    refused = run("import gunicorn", "+python3-light +python3-flask")
    assert "import gunicorn refused" in refused.stderr and "it is in python3-gunicorn," in refused.stderr
    done = run("import gunicorn, nftables; print('ok')", "+python3-gunicorn +python3-nftables")
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def test_on_a_staged_router_the_projects_modules_come_only_from_its_site(tmp_path):
    """With `site`, this machine's own copy of a module of the project's packages does not count."""
    site = tmp_path / "site"
    (site / "gunicorn").mkdir(parents=True)
    (site / "gunicorn" / "__init__.py").write_text("STAGED = True\n")
    guard = importguard.write_site(tmp_path / "guard", "openwrt-24.10",
                                   [("", "+python3-gunicorn +python3-nftables")], site=str(site))
    code = "import gunicorn; print(gunicorn.STAGED); import nftables"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": f"{guard}:{site}"},
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.stdout == "True\n"
    assert ("import nftables refused on the staged router: no installed package has it (this machine's copy: "
            "/usr/lib/python3/dist-packages/nftables/__init__.py)") in done.stderr


def test_a_module_openwrt_never_ships_is_refused_with_the_reason():
    refused = run("import tkinter", "+python3")
    reason = "OpenWrt ships no tkinter (in no package: python3-light's filespec leaves it out)"
    assert reason in refused.stderr


def test_scapy_is_the_package_scapy_not_python3_scapy():
    assert "it is in scapy," in run("import scapy", "+python3-light +python3-scapy").stderr
    assert "import scapy refused" not in run("import scapy", "+python3-light +scapy").stderr


def test_without_a_depends_line_the_guard_takes_hotspots_own_from_the_makefile():
    done = run("import sqlite3, hotspot.config; print('ok')", None)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


@pytest.mark.parametrize("branch", BRANCHES)
def test_the_split_data_names_the_commit_and_the_python_of_the_branch(branch):
    data = json.loads((OPENWRT / "python-split" / f"{branch}.json").read_text())
    assert data["source"]["branch"] == branch and len(data["source"]["commit"]) == 40
    assert data["python"] == {"openwrt-24.10": "3.11", "openwrt-25.12": "3.13"}[branch]
    assert data["modules"]["sqlite3"] == data["modules"]["_sqlite3"] == "python3-sqlite3"
    assert data["modules"]["_ssl"] == data["modules"]["_hashlib"] == "python3-openssl"
    assert data["modules"]["email"] == "python3-email"
    assert data["rest"] == "python3-light"
