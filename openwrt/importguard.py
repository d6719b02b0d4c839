"""Refuse, on a development machine, every import an OpenWrt router with only the declared packages lacks.

OpenWrt cuts Python's standard library into packages (python3-light, python3-sqlite3, python3-openssl,
...) and ships third-party modules as packages of their own (python3-flask, scapy, ...). A module that
works here but whose package the DEPENDS line does not pull in fails only on the router. The guard is a
meta path finder: for each module not yet imported it finds the OpenWrt package that holds it (from
openwrt/python-split/BRANCH.json, made from the feed) and raises ModuleNotFoundError, with the package
to add, when the DEPENDS line's closure (openwrt/feed/BRANCH.json) does not have it. An import a module
makes inside try/except then fails as it would on the router, so fallbacks run as they would there.

Two ways in:
  - in-process: importguard.install("+python3-light +python3-sqlite3", "openwrt-25.12")
  - for a whole process tree: put openwrt/guard-site on PYTHONPATH (its sitecustomize installs the
    guard) with OPENWRT_GUARD_DEPENDS (a DEPENDS line; unset: hotspot's, read from openwrt/Makefile),
    OPENWRT_GUARD_BRANCH (default openwrt-25.12), OPENWRT_GUARD_OWN (top-level modules that are the
    package itself, default 'hotspot') and OPENWRT_GUARD_LOG (a file that gets one line per refusal,
    also those a try/except swallowed).
  - for processes whose environment is not passed on (hotspotd starts the portal with a few variables
    only): write_site(DIR, ...) writes a sitecustomize.py that picks each process's DEPENDS line by its
    command line; put DIR on PYTHONPATH.
"""

from __future__ import annotations

import fnmatch
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BRANCH = "openwrt-25.12"
# Import names of the project's own packages of what the feed lacks (openwrt/python3-nftables,
# openwrt/python-gunicorn, openwrt/python-blinker); tests/openwrt checks them against the staged trees.
OWN_DISTRIBUTIONS = {"nftables": ["python3-nftables"], "gunicorn": ["python3-gunicorn"],
                     "blinker": ["python3-blinker"]}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


depends = _load("openwrt_feed_depends", HERE / "feed" / "depends.py")


def makefile_depends(makefile: Path = HERE / "Makefile", package: str = "hotspot") -> str:
    """The DEPENDS line of one package of an OpenWrt Makefile, evaluated as make would."""
    minimake = _load("openwrt_feed_minimake", HERE / "feed" / "minimake.py")
    root = makefile.parent

    def read(path: str) -> str | None:
        try:
            return (root / path).read_text()
        except OSError:
            return None

    found, _ = minimake.packages(makefile.name, read)
    if package not in found:
        raise LookupError(f"{makefile}: no package {package!r}")
    return found[package].depends


class Guard:
    """A meta path finder that allows a module only if a package of the closure holds it."""

    def __init__(self, depends_line: str, branch: str = DEFAULT_BRANCH, own: tuple[str, ...] = ("hotspot",),
                 log: str | None = None, site: str | None = None) -> None:
        """`site`: the site-packages of a staged router; the project's own modules (`own` and those of
        OWN_DISTRIBUTIONS) are then allowed from there only, not from this machine's copies."""
        self.depends_line = " ".join(depends_line.split())
        self.branch = branch
        self.own = frozenset(own)
        self.log = log
        self.site = site
        self.allowed = depends.closure(depends_line, branch)
        split = json.loads((HERE / "python-split" / f"{branch}.json").read_text())
        self.modules: dict[str, str] = split["modules"]
        self.patterns = {k: v for k, v in self.modules.items() if "*" in k}
        self.rest: str = split["rest"]
        self.absent: dict[str, str] = split["absent"]
        self.distributions: dict[str, list[str]] = {**split["distributions"], **OWN_DISTRIBUTIONS}
        self.python = split["python"]

    def holder(self, fullname: str) -> tuple[list[str], str]:
        """The packages that could provide a module (any one will do), or [] and why none can."""
        top = fullname.partition(".")[0]
        if top in self.absent:
            return [], f"OpenWrt ships no {top} ({self.absent[top]})"
        if top in self.modules:
            return [self.modules[top]], ""
        for pattern, package in self.patterns.items():
            if fnmatch.fnmatchcase(top, pattern):
                return [package], ""
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return [self.rest], ""
        packages = self.distributions.get(top, [])
        if not packages:
            return [], f"no package of the OpenWrt feed ({self.branch}) provides it"
        return packages, ""

    def outside_site(self, fullname: str) -> str | None:
        """Why a module of the project's own packages would come from this machine rather than from
        the staged router's site-packages, or None."""
        if self.site is None or "." in fullname or (fullname not in self.own
                                                     and fullname not in OWN_DISTRIBUTIONS):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname)
        origin = (spec.origin or next(iter(spec.submodule_search_locations or []), "")) if spec else ""
        if origin and os.path.realpath(origin).startswith(os.path.realpath(self.site) + os.sep):
            return None
        return f"no installed package has it (this machine's copy: {origin or 'none'})"

    def exists_here(self, fullname: str) -> bool:
        """Whether this machine has the top-level module: one it lacks fails here too, so the guard
        leaves it alone (Python's own probes, such as copy's for Jython's org.python.core)."""
        top = fullname.partition(".")[0]
        if top in sys.builtin_module_names:
            return True
        return importlib.machinery.PathFinder.find_spec(top) is not None

    def verdict(self, fullname: str) -> str | None:
        """Why the router could not import this module, or None if it could."""
        outside = self.outside_site(fullname)
        if outside:
            return f"import {fullname} refused on the staged router: {outside}"
        if fullname.partition(".")[0] in self.own:
            return None
        packages, why = self.holder(fullname)
        if any(p in self.allowed for p in packages):
            return None
        if "." not in fullname and not self.exists_here(fullname):
            return None
        if not why:
            needs = " or ".join(packages)
            why = f"it is in {needs}, which DEPENDS ({self.depends_line}) does not pull in"
        return f"import {fullname} refused on OpenWrt {self.branch} (Python {self.python}): {why}"

    # importlib.abc.MetaPathFinder
    def find_spec(self, fullname, path=None, target=None):
        reason = self.verdict(fullname)
        if reason is None:
            return None  # the ordinary finders go on
        if self.log:
            with open(self.log, "a") as f:
                f.write(reason + "\n")
        raise ModuleNotFoundError(reason, name=fullname)

    def invalidate_caches(self) -> None:
        pass


def install(depends_line: str, branch: str = DEFAULT_BRANCH, own: tuple[str, ...] = ("hotspot",),
            log: str | None = None, site: str | None = None) -> Guard:
    guard = Guard(depends_line, branch, own, log, site)
    sys.meta_path.insert(0, guard)
    return guard


def install_from_environment() -> Guard:
    line = os.environ.get("OPENWRT_GUARD_DEPENDS")
    if line is None:
        line = makefile_depends()
    own = tuple(os.environ.get("OPENWRT_GUARD_OWN", "hotspot").split())
    return install(line, os.environ.get("OPENWRT_GUARD_BRANCH", DEFAULT_BRANCH), own,
                   os.environ.get("OPENWRT_GUARD_LOG") or None)


def write_site(directory: Path, branch: str, processes: list[tuple[str, str]], log: str | None = None,
               own: tuple[str, ...] = ("hotspot",), site: str | None = None) -> Path:
    """A folder with a sitecustomize.py that guards every Python process started with it on PYTHONPATH,
    whatever environment it was given: `processes` is a list of (a word of the command line, the DEPENDS
    line), the first match wins ('' matches any); `site` as Guard's."""
    directory.mkdir(parents=True, exist_ok=True)
    rules = {"branch": branch, "log": log, "own": list(own), "processes": [list(p) for p in processes],
             "site": site}
    (directory / "guard.json").write_text(json.dumps(rules, indent=1))
    here = str(HERE / "importguard.py")
    (directory / "sitecustomize.py").write_text(
        "import importlib.util, os\n"
        f"_spec = importlib.util.spec_from_file_location('openwrt_importguard', {here!r})\n"
        "_guard = importlib.util.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(_guard)\n"
        "_guard.install_for_process(os.path.join(os.path.dirname(__file__), 'guard.json'))\n")
    return directory


def install_for_process(rules_file: str) -> Guard:
    """The guard for this process, by the rules write_site wrote and this process's command line."""
    with open(rules_file) as f:
        rules = json.load(f)
    with open("/proc/self/cmdline", "rb") as f:
        words = [w.decode(errors="replace") for w in f.read().split(b"\0")]
    for word, line in rules["processes"]:
        if not word or any(word == w or w.endswith("/" + word) for w in words):
            return install(line, rules["branch"], tuple(rules["own"]), rules["log"], rules.get("site"))
    raise RuntimeError(f"{rules_file}: no rule for {' '.join(words)}")
