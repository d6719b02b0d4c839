"""deps_exist: a DEPENDS line checked against the committed index of an OpenWrt branch."""

from __future__ import annotations

from tests.openwrt.repo import OPENWRT, depends, importguard


def deps_exist(depends_line: str, branch: str) -> None:
    """Fail, listing them, if the DEPENDS line names packages that the branch does not have."""
    absent = depends.missing(depends_line, branch)
    if absent:
        raise AssertionError(f"not in OpenWrt {branch}: {', '.join(absent)}")


def hotspot_depends() -> str:
    """The DEPENDS line of package hotspot in openwrt/Makefile, as make expands it."""
    return importguard.makefile_depends(OPENWRT / "Makefile", "hotspot")
