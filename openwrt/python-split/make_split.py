"""Write which OpenWrt package holds each Python module, for one branch of the packages feed.

    python3 openwrt/python-split/make_split.py --git-dir DIR --commit SHA --branch openwrt-25.12 \
        --out openwrt/python-split/openwrt-25.12.json

OpenWrt cuts CPython's standard library into packages (lang/python/python3): python3-base holds what the
interpreter needs to start, each files/python3-package-*.mk takes some modules out into a package of
their own (python3-sqlite3, python3-openssl, ...), and python3-light holds the rest, less a few modules
no package ships. Modules outside the standard library come from the feed's Py3Package Makefiles: the
import names each one provides are guessed from its PyPI name and its package name.

The JSON this writes: `modules` maps a top-level module or package of the standard library to the
package holding it (fnmatch patterns for files such as _sysconfigdata_*), `rest` is the package of every
other standard module, `absent` the modules OpenWrt does not ship at all (with why), and `distributions`
maps an import name outside the standard library to the packages that provide it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "feed"))
import minimake  # noqa: E402
from make_index import GitTree  # noqa: E402

PYTHON3_MAKEFILE = "lang/python/python3/Makefile"
# Configure flags of lang/python/python3/Makefile that leave modules out of the build altogether.
NOT_BUILT = {
    "_tkinter": "not built: py_cv_module__tkinter=n/a",
    "nis": "not built: py_cv_module_nis=n/a",
    "test": "not installed: --disable-test-modules",
}


def module_of(path: str, version: str) -> str | None:
    """The top-level module a file or directory of the standard library is, or None if it is none."""
    prefix = f"/usr/lib/python{version}/"
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix):]
    if rel.startswith("config-"):
        return None
    if rel.startswith("lib-dynload/"):
        return rel[len("lib-dynload/"):].split(".", 1)[0]
    top = rel.split("/", 1)[0]
    return top[:-3] if top.endswith(".py") else top


def stdlib_split(tree: GitTree) -> dict:
    make = minimake.Make(PYTHON3_MAKEFILE, tree)
    make.run()
    version = make.expand("$(PYTHON3_VERSION)").strip()
    modules: dict[str, str] = {}
    for macro, args in make.calls:
        if macro != "Py3BasePackage" or len(args) < 2:
            continue
        for path in args[1].split():
            name = module_of(path, version)
            if name:
                modules[name] = args[0]
    for path in make.expand("$(PYTHON3_BASE_LIB_FILES)").split():
        name = module_of(path, version)
        if name:
            modules[name] = "python3-base"
    absent = dict(NOT_BUILT)
    for line in make.vars.get("Py3Package/python3-light/filespec", "").splitlines():
        line = line.strip()
        if line.startswith("-|") and "$(lib_file)" not in line:
            name = module_of(make.expand(line[2:]).strip(), version)
            if name:
                absent[name] = "in no package: python3-light's filespec leaves it out"
    return {"python": version, "modules": dict(sorted(modules.items())), "rest": "python3-light",
            "absent": dict(sorted(absent.items()))}


def _import_name(text: str) -> str:
    return re.sub(r"[-.]", "_", text.strip().lower())


def distributions(tree: GitTree) -> dict[str, list[str]]:
    """Import name -> the feed's packages that provide it, for every Py3Package outside the stdlib."""
    found: dict[str, set[str]] = {}
    for path in tree.listing:
        if not path.endswith("/Makefile") or path == PYTHON3_MAKEFILE:
            continue
        text = tree(path) or ""
        if "python3-package.mk" not in text:
            continue
        make = minimake.Make(path, tree)
        make.run()
        names = [args[0] for macro, args in make.calls
                 if macro == "Py3Package" and args and not args[0].endswith("-src")]
        pypi = make.expand("$(PYPI_SOURCE_NAME)").strip() or make.expand("$(PYPI_NAME)").strip()
        for name in names:
            if "$" in name or not name:
                continue
            candidates = {_import_name(name.removeprefix("python3-"))}
            if pypi:
                candidates.add(_import_name(pypi))
                candidates.add(_import_name(pypi.removeprefix("python-").removeprefix("py")))
            for c in candidates:
                if c:
                    found.setdefault(c, set()).add(name)
    return {k: sorted(v) for k, v in sorted(found.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--git-dir", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--branch", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    full = subprocess.run(["git", f"--git-dir={a.git_dir}", "rev-parse", a.commit],
                          check=True, capture_output=True, text=True).stdout.strip()
    tree = GitTree(a.git_dir, full, lambda p: p.endswith("/Makefile") or p.startswith("lang/python/"))
    result = {"source": {"repo": "openwrt/packages", "branch": a.branch, "commit": full,
                         "path": "lang/python/python3"}}
    result.update(stdlib_split(tree))
    result["distributions"] = distributions(tree)
    Path(a.out).write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    print(f"{a.out}: Python {result['python']}, {len(result['modules'])} split modules, "
          f"{len(result['distributions'])} import names")


if __name__ == "__main__":
    main()
