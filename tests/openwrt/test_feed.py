"""The feed index (openwrt/feed): the script that makes it, the committed indexes, and deps_exist."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.openwrt.feedcheck import deps_exist, hotspot_depends
from tests.openwrt.repo import BRANCHES, OPENWRT, depends, minimake

# The packages feed commits the indexes were made from (openwrt/feed/README.md).
PINNED = {
    "openwrt-24.10": "42525d32c41080d8a2a9f1b7929f4207427d5ce8",
    "openwrt-25.12": "57654a9f48f82a2163a36de4123c2537abb5fce8",
    "master": "0521bb56793387788798e4a69b84d96766ed54e2",
}


def index_file(branch: str) -> dict:
    return json.loads((OPENWRT / "feed" / f"{branch}.json").read_text())


@pytest.mark.parametrize("branch", sorted(PINNED))
def test_each_index_names_the_commit_it_was_made_from(branch):
    data = index_file(branch)
    assert data["source"] == {**data["source"], "repo": "openwrt/packages", "branch": branch,
                              "commit": PINNED[branch]}
    assert data["count"] == len(data["packages"]) > 4000
    assert data["unresolved"] == {}


# The DEPENDS line openwrt/Makefile had before the packages were checked against the feed.
FIRST_LINE = ("+python3-light +python3-sqlite3 +python3-logging +python3-decimal +python3-ctypes "
              "+nftables-json +kmod-sched-core +tc-tiny +ip-tiny +python3-flask +gunicorn3 +python3-openssl "
              "+python3-email +python3-urllib +python3-scapy")


@pytest.mark.parametrize("branch", BRANCHES)
def test_the_checker_finds_the_names_of_the_first_makefile_that_the_feed_lacks(branch):
    """gunicorn3 left the feed in 2022 and the scapy package is `scapy`: the checker names exactly those
    two on both target branches."""
    with pytest.raises(AssertionError) as failure:
        deps_exist(FIRST_LINE, branch)
    assert str(failure.value) == f"not in OpenWrt {branch}: gunicorn3, python3-scapy"


def test_on_master_python3_email_is_gone_too():
    """master merged python3-email into python3-urllib."""
    assert depends.missing(FIRST_LINE, "master") == ["gunicorn3", "python3-email", "python3-scapy"]
    assert "python3-email" in index_file("openwrt-25.12")["packages"]


def test_hotspots_own_line_is_read_from_the_makefile():
    assert hotspot_depends().startswith("+python3-light +python3-sqlite3 ")


@pytest.mark.parametrize("branch", BRANCHES)
def test_the_checker_passes_a_correct_line_of_every_form(branch):
    deps_exist("+python3-light +python3-sqlite3 +python3-logging +python3-decimal +python3-ctypes "
               "+python3-openssl +python3-urllib +python3-flask +scapy +nftables-json +kmod-sched-core "
               "+tc-tiny +ip-tiny kmod-nft-nat +@KERNEL_DEBUG_FS @!LINUX_5_4 +USE_GLIBC:zlib "
               "+PACKAGE_dnsmasq-full:dnsmasq-full +(A||B):ca-certs", branch)


def test_the_checker_names_a_missing_conditional_package_and_a_missing_virtual():
    with pytest.raises(AssertionError, match=r": hotspotd-nope, not-a-virtual$"):
        deps_exist("+python3-light +@SYM +SYM:hotspotd-nope not-a-virtual +ca-certs", "openwrt-25.12")


@pytest.mark.parametrize(("word", "dep"), [
    ("+pkg", depends.Dep("pkg", select=True)),
    ("pkg", depends.Dep("pkg")),
    ("@SYM", depends.Dep("SYM", symbol=True)),
    ("+@SYM", depends.Dep("SYM", symbol=True, select=True)),
    ("+SYM:pkg", depends.Dep("pkg", condition="SYM", select=True)),
    ("!SYM:pkg", depends.Dep("pkg", condition="!SYM")),
    ("+(A||B):libmnl", depends.Dep("libmnl", condition="(A||B)", select=True)),
])
def test_parse_reads_every_form_of_a_depends_word(word, dep):
    assert depends.parse(word) == [dep]


def test_parse_refuses_an_unexpanded_variable():
    with pytest.raises(depends.DependsError, match="unexpanded"):
        depends.parse("+python3-light +$(PKG_NAME)-lib")


def test_the_closure_follows_unconditional_dependencies_only():
    got = depends.closure("+python3-sqlite3", "openwrt-25.12")
    assert {"python3-sqlite3", "python3-light", "python3-base", "libpython3", "libsqlite3"} <= got
    assert "libcrypt-compat" not in got  # python3-light has it only under USE_GLIBC
    assert "python3-openssl" not in got


# -- minimake, the make subset the index is made with ---------------------------------------------------

FAKE_FEED = {
    "lang/python/python3-version.mk": "MAJOR:=3\nPYTHON3_VERSION:=$(MAJOR).13\n",
    "net/demo/Makefile": r"""
include $(TOPDIR)/rules.mk
include ../../lang/python/python3-version.mk
PKG_NAME:=demo
MODS:=alpha beta_two # a comment
ifeq ($(CONFIG_SOMETHING),y)
MODS+=never
endif # comment after endif
define Package/$(PKG_NAME)
  DEPENDS:=+libdemo \
	+python$(PYTHON3_VERSION)-x
endef
define Package/demo/Default
  DEPENDS:=+demo
endef
define Plugin
  define Package/demo-mod-$(subst _,-,$(1))
  $$(call Package/demo/Default)
  endef
  $$(eval $$(call BuildPackage,demo-mod-$(subst _,-,$(1))))
endef
$(eval $(call BuildPackage,$(PKG_NAME)))
$(foreach m,$(MODS),$(eval $(call Plugin,$(m))))
#$(eval $(call BuildPackage,commented-out))
$(eval $(call KernelPackage,demo-kmod))
""",
}


def test_minimake_names_packages_made_by_variables_macros_and_loops():
    found, unresolved = minimake.packages("net/demo/Makefile", FAKE_FEED.get)
    assert sorted(found) == ["demo", "demo-mod-alpha", "demo-mod-beta-two", "kmod-demo-kmod"]
    assert found["demo"].depends == "+libdemo +python3.13-x"
    assert found["demo-mod-beta-two"].depends == "+demo"
    assert unresolved == []


def test_make_index_reads_a_git_snapshot_end_to_end(tmp_path):
    """The committed script, run on a small feed in a real git repository."""
    feed = tmp_path / "feed"
    for path, text in FAKE_FEED.items():
        (feed / path).parent.mkdir(parents=True, exist_ok=True)
        (feed / path).write_text(text)
    git = ["git", "-C", str(feed), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(feed)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "feed"], check=True)
    out = tmp_path / "index.json"
    subprocess.run([sys.executable, str(OPENWRT / "feed" / "make_index.py"), "--git-dir", str(feed / ".git"),
                    "--commit", "HEAD", "--branch", "test", "--out", str(out)], check=True,
                   capture_output=True)
    data = json.loads(out.read_text())
    assert data["source"]["branch"] == "test" and len(data["source"]["commit"]) == 40
    assert sorted(data["packages"]) == ["demo", "demo-mod-alpha", "demo-mod-beta-two", "kmod-demo-kmod"]
    assert data["packages"]["demo"] == {"depends": "+libdemo +python3.13-x", "makefile": "net/demo/Makefile"}
