"""Read OpenWrt DEPENDS lines and answer, from the committed feed index, what they name and pull in.

A DEPENDS line is a list of words: `+pkg` selects and depends on pkg, `pkg` only depends on it, `@SYM`
needs a Kconfig symbol, `+@SYM` selects one, and `COND:pkg` / `+COND:pkg` depend on pkg only when COND
(a symbol, `!SYM`, or `(A||B)`) holds.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
OWN = HERE.parent  # openwrt/: the project's own packages (hotspot, its parts, what the feed lacks)
BRANCHES = ("openwrt-24.10", "openwrt-25.12", "master")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


class Dep(NamedTuple):
    name: str  # a package, or a Kconfig symbol when symbol is True
    symbol: bool = False
    condition: str = ""  # the COND of COND:pkg, '' when unconditional
    select: bool = False


class DependsError(ValueError):
    pass


def parse(depends: str) -> list[Dep]:
    """The words of a DEPENDS line; a word that is none of the forms above raises DependsError."""
    deps = []
    for word in depends.split():
        select = word.startswith("+")
        body = word[1:] if select else word
        if body.startswith("@"):
            deps.append(Dep(body[1:], symbol=True, select=select))
            continue
        condition, _, name = body.rpartition(":")
        if "$" in name or not _NAME.fullmatch(name):
            raise DependsError(f"{word!r} is not a package name (unexpanded make variable?)")
        deps.append(Dep(name, condition=condition, select=select))
    return deps


@cache
def feed(branch: str) -> dict[str, dict]:
    """Every package of the branch's packages feed, with the core packages of core.json, by name."""
    if branch not in BRANCHES:
        raise DependsError(f"no index for branch {branch!r} (have {', '.join(BRANCHES)})")
    packages = dict(json.loads((HERE / f"{branch}.json").read_text())["packages"])
    for name, info in json.loads((HERE / "core.json").read_text())["packages"].items():
        packages.setdefault(name, info)
    return packages


@cache
def index(branch: str) -> dict[str, dict]:
    """What a router of the branch can install: the feed's packages and the project's own."""
    return {**feed(branch), **own_packages()}


def own_makefiles() -> list[Path]:
    """Every package Makefile of the project: openwrt/Makefile and openwrt/*/Makefile (those added
    later included), not the vendored sources."""
    return [OWN / "Makefile", *sorted(p for p in OWN.glob("*/Makefile") if p.parent.name != "vendor")]


@cache
def own_packages() -> dict[str, dict]:
    """The packages the project's own Makefiles build, by name, as the feed index has them. A LuCI
    app's Makefile (luci.mk) is named by its directory and depends on LUCI_DEPENDS."""
    minimake = _minimake()
    out: dict[str, dict] = {}
    for makefile in own_makefiles():
        root = makefile.parent

        def read(path: str, root: Path = root) -> str | None:
            try:
                return (root / path).read_text()
            except OSError:
                return None

        make = minimake.Make(makefile.name, read)
        found = make.run()
        where = str(makefile.relative_to(OWN.parent))
        for name, pkg in found.items():
            out[name] = {"depends": pkg.depends, "provides": pkg.provides, "makefile": where}
        if not found and "luci.mk" in makefile.read_text():
            out[root.name] = {"depends": make.expand(make.vars.get("LUCI_DEPENDS", "")).strip(),
                              "provides": "", "makefile": where}
    return out


def _minimake():
    import importlib.util

    spec = importlib.util.spec_from_file_location("openwrt_feed_minimake", HERE / "minimake.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def provided(branch: str) -> dict[str, tuple[str, ...]]:
    """Virtual names (PROVIDES) -> the packages that provide them."""
    out: dict[str, list[str]] = {}
    for name, info in index(branch).items():
        for virtual in info.get("provides", "").split():
            out.setdefault(virtual, []).append(name)
    return {k: tuple(v) for k, v in out.items()}


def missing(depends: str, branch: str) -> list[str]:
    """The package names of a DEPENDS line that no package of the branch is or provides."""
    known = index(branch)
    virtual = provided(branch)
    return [d.name for d in parse(depends) if not d.symbol and d.name not in known and d.name not in virtual]


def closure(depends: str, branch: str) -> frozenset[str]:
    """Every package a DEPENDS line installs: the names and, recursively, their unconditional
    dependencies (a conditional one may not be there, so it counts as absent; a virtual name stays
    itself, as which package provides it is the installer's choice)."""
    known = index(branch)
    todo = [d.name for d in parse(depends) if not d.symbol and not d.condition]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        info = known.get(name)
        if info:
            try:
                deps = parse(info.get("depends", ""))
            except DependsError:
                continue
            todo.extend(d.name for d in deps if not d.symbol and not d.condition)
    return frozenset(seen)
