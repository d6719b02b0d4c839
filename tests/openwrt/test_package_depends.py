"""Every DEPENDS name of every package the project builds (openwrt/Makefile and openwrt/*/Makefile,
those added later included) exists on the target branches: in the feed's index at the pinned commit, in
OpenWrt's core packages (core.json), or among the project's own packages."""

from __future__ import annotations

import shutil

import pytest

from tests.openwrt.feedcheck import deps_exist
from tests.openwrt.repo import BRANCHES, OPENWRT, depends


def own_packages() -> list[tuple[str, str]]:
    return sorted((info["makefile"], name) for name, info in depends.own_packages().items())


@pytest.mark.parametrize("branch", [*BRANCHES, "master"])
@pytest.mark.parametrize(("makefile", "package"), own_packages())
def test_every_depends_name_exists(makefile, package, branch):
    deps_exist(depends.own_packages()[package]["depends"], branch)


def test_every_project_makefile_is_read_and_defines_a_package():
    """A Makefile the reader cannot make sense of would leave its DEPENDS unchecked: it fails instead."""
    makefiles = {info["makefile"] for info in depends.own_packages().values()}
    assert makefiles == {str(m.relative_to(OPENWRT.parent)) for m in depends.own_makefiles()}
    assert {"hotspot", "hotspot-portal", "hotspot-snoop", "python3-nftables", "python3-gunicorn",
            "python3-blinker"} <= set(depends.own_packages())


@pytest.mark.parametrize("branch", BRANCHES)
def test_the_projects_packages_take_no_name_of_the_feed(branch):
    assert not set(depends.own_packages()) & set(depends.feed(branch))


def test_on_master_only_python3_blinker_is_in_the_feed_too():
    """master added python3-blinker (1.9.0, as ours) in March 2026: there the feed's is the one to use."""
    both = set(depends.own_packages()) & set(depends.feed("master"))
    assert both == {"python3-blinker", "python3-blinker-src"}


@pytest.fixture
def copied_tree(tmp_path, monkeypatch):
    """openwrt/'s Makefiles in a scratch directory the depends module reads instead."""
    for makefile in depends.own_makefiles():
        target = tmp_path / makefile.relative_to(OPENWRT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(makefile, target)
    monkeypatch.setattr(depends, "OWN", tmp_path)
    for cached in (depends.own_packages, depends.index, depends.provided):
        cached.cache_clear()
    yield tmp_path
    for cached in (depends.own_packages, depends.index, depends.provided):
        cached.cache_clear()


def test_a_name_the_feed_lacks_fails_the_check(copied_tree):
    makefile = copied_tree / "Makefile"
    makefile.write_text(makefile.read_text().replace("+python3-gunicorn", "+gunicorn3"))
    with pytest.raises(AssertionError, match=r"^not in OpenWrt openwrt-24.10: gunicorn3$"):
        deps_exist(depends.own_packages()["hotspot-portal"]["depends"], "openwrt-24.10")


def test_a_luci_app_added_later_is_checked_by_its_directory_name(copied_tree):
    app = copied_tree / "luci-app-hotspot-later"
    app.mkdir()
    (app / "Makefile").write_text("include $(TOPDIR)/rules.mk\n\nLUCI_TITLE:=hotspot\n"
                                  "LUCI_DEPENDS:=+luci-base +hotspot +rpcd-mod-nope\n\n"
                                  "include ../../luci.mk\n\n"
                                  "# call BuildPackage - OpenWrt buildroot signature\n")
    app_package = depends.own_packages()["luci-app-hotspot-later"]
    assert app_package["depends"] == "+luci-base +hotspot +rpcd-mod-nope"
    assert app_package["makefile"].endswith("/luci-app-hotspot-later/Makefile")
    with pytest.raises(AssertionError, match=r": rpcd-mod-nope$"):
        deps_exist(depends.own_packages()["luci-app-hotspot-later"]["depends"], "openwrt-25.12")
