"""Stage the project's OpenWrt packages as the SDK's Py3Package would install them, without an SDK.

For each package of openwrt/Makefile, openwrt/python3-nftables and openwrt/python-* this does what
lang/python/python3-package.mk does between the build and the .ipk/.apk: the package's install recipe
(the Makefile's own, read with openwrt/feed/minimake.py and run by sh with OpenWrt's INSTALL_* commands),
its filespec (`+|path`, `-|path`, `=|path|filemode|dirmode`, `==|...`), then `python -m compileall -r 20
-b -d /`, every .py deleted, empty directories removed, and the scripts' shebang set to /usr/bin/python3.
Each package gets a directory of its own, the tree the router would unpack, so what one package lacks
is missing for real, and a file two packages would both own is refused as opkg and apk refuse it.

What goes in (PKG_INSTALL_DIR):
  hotspot*          the wheel of this repository (pip wheel), unpacked as python -m installer would
  python3-gunicorn, python3-blinker
                    PyPI's wheel of the version openwrt/python-*/Makefile pins (hash checked)
  python3-nftables  the nftables release's py/ binding as the host's Python has it (Debian's
                    python3-nftables, built from that same py/ directory for the host's libnftables)

The result is cached under .artifacts/openwrt-stage/<hash of every input>/.

    python3 openwrt/stage.py [--out DIR]     # stage (or find) and print each package's installed size
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".artifacts" / "openwrt-stage"
PYTHON = "/usr/bin/python3"  # Debian 12's Python 3.11, as OpenWrt 24.10's
# The wheels PyPI serves for the versions openwrt/python-*/Makefile pin (their PKG_HASH is the sdist's,
# which the SDK builds from).
PYPI_WHEELS = {
    ("gunicorn", "26.1.0"): "9f45bcddec5e9dc7a25a3bdccb0c6832f11fd5d4739b1ee36c8d2fec25f1dc86",
    ("blinker", "1.9.0"): "ba0efaa9080b619ff2f3459d1d500c57bddea4a6b424b60a91141db6fd2f08bc",
}

# include/*.mk of OpenWrt: what the install recipes' commands expand to.
OPENWRT_COMMANDS = {
    "INSTALL_DIR": "install -d -m0755",
    "INSTALL_BIN": "install -m0755",
    "INSTALL_DATA": "install -m0644",
    "INSTALL_CONF": "install -m0600",
    "CP": "cp -fpR",
    "LN": "ln -sf",
    "FIND": "find",
    "SED": "sed -i -e",
}
MAKEFILES = {  # package -> its Makefile
    "hotspot": HERE / "Makefile",
    "hotspot-portal": HERE / "Makefile",
    "hotspot-snoop": HERE / "Makefile",
    "python3-nftables": HERE / "python3-nftables" / "Makefile",
    "python3-gunicorn": HERE / "python-gunicorn" / "Makefile",
    "python3-blinker": HERE / "python-blinker" / "Makefile",
}


class StageError(Exception):
    pass


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


minimake = _load("openwrt_feed_minimake", HERE / "feed" / "minimake.py")


def python_version(python: str = PYTHON) -> str:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip()


def makefile(path: Path, preset: dict[str, str]):
    """A Makefile read by minimake (its variables and defines), as make would see them."""
    root = path.parent

    def read(rel: str) -> str | None:
        try:
            return (root / rel).read_text()
        except OSError:
            return None

    make = minimake.Make(path.name, read, preset)
    make.run()
    return make


def pypi_pin(package: str) -> tuple[str, str]:
    """(PYPI_NAME, PKG_VERSION) of one of openwrt/python-*/Makefile."""
    make = makefile(MAKEFILES[package], {})
    return make.expand("$(PYPI_NAME)").strip(), make.expand("$(PKG_VERSION)").strip()


# -- what goes in ----------------------------------------------------------------------------------------

def inputs(python: str = PYTHON) -> list[Path]:
    files = [*sorted((ROOT / "hotspot").rglob("*.py")), *sorted((ROOT / "hotspot").rglob("*.conf")),
             *sorted(p for p in (ROOT / "web").rglob("*") if p.is_file()), *sorted((ROOT / "nft").glob("*")),
             ROOT / "setup.cfg", ROOT / "pyproject.toml", *sorted((HERE / "files").glob("*")),
             *sorted(set(MAKEFILES.values())), Path(__file__).resolve(), HERE / "feed" / "minimake.py"]
    return [f for f in files if "__pycache__" not in f.parts]


def digest(python: str = PYTHON) -> str:
    h = hashlib.sha256(f"{python} {python_version(python)}\n".encode())
    for path in inputs(python):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def install_wheel(wheel: Path, dest: Path, site: str) -> None:
    """Unpack a pure wheel into dest as `python -m installer --prefix /usr --no-compile-bytecode` does:
    its files under site-packages, a script in /usr/bin for each console entry point."""
    with zipfile.ZipFile(wheel) as z:
        z.extractall(dest / site.lstrip("/"))
        info = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")) \
            if any(n.endswith(".dist-info/entry_points.txt") for n in z.namelist()) else None
        entry_points = z.read(info).decode() if info else ""
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str
    parser.read_string(entry_points)
    if parser.has_section("console_scripts"):
        bindir = dest / "usr" / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        for name, target in parser["console_scripts"].items():
            module, _, func = target.strip().partition(":")
            script = bindir / name
            script.write_text(f"#!{PYTHON}\nimport sys\nfrom {module} import {func}\n"
                              f"if __name__ == '__main__':\n    sys.exit({func}())\n")
            script.chmod(0o755)


def hotspot_wheel(work: Path, python: str) -> Path:
    """This repository's wheel (setuptools, as the SDK's `python -m build --wheel --no-isolation`)."""
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".artifacts", "__pycache__", "*.egg-info", "tests", "lab", "docs", "openwrt",
        "build"))
    out = work / "wheels"
    subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(src)],
                   check=True, capture_output=True, text=True)
    return next(out.glob("hotspot-*.whl"))


def pypi_wheel(package: str, python: str) -> Path:
    """PyPI's wheel of the version a Makefile pins, downloaded once and checked against its hash."""
    name, version = pypi_pin(package)
    if (name, version) not in PYPI_WHEELS:
        raise StageError(f"no wheel hash for {name} {version}: add it to PYPI_WHEELS")
    downloads = CACHE / "downloads"
    wheel = downloads / f"{name}-{version}-py3-none-any.whl"
    if not wheel.exists():
        downloads.mkdir(parents=True, exist_ok=True)
        subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "--disable-pip-version-check", "-d", str(downloads), f"{name}=={version}"],
                       check=True, capture_output=True, text=True)
    if hashlib.sha256(wheel.read_bytes()).hexdigest() != PYPI_WHEELS[name, version]:
        wheel.unlink()
        raise StageError(f"{wheel.name}: not the wheel whose hash is pinned")
    return wheel


def nftables_binding(dest: Path, site: str, python: str) -> None:
    """The binding as the host's Python has it (the nftables release's py/ for the host's libnftables)."""
    code = "import nftables, os; print(os.path.dirname(nftables.__file__))"
    done = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True)
    where = done.stdout.strip()
    shutil.copytree(where, dest / site.lstrip("/") / "nftables",
                    ignore=shutil.ignore_patterns("__pycache__"))


# -- what Py3Package does ------------------------------------------------------------------------------

def filespec(spec: str, src: Path, dest: Path) -> None:
    """A Py3Package filespec, line by line: `+|path[|filemode|dirmode]` copies from src, `-|path`
    removes from dest, `=|path|filemode|dirmode` sets modes recursively, `==|...` on the path alone."""
    for line in spec.splitlines():
        fields = [f.strip() for f in line.split("|")] + ["", "", ""]
        cmd, path, file_mode, dir_mode = fields[:4]
        if not cmd or cmd.startswith("#"):
            continue
        if not path:
            raise StageError(f"filespec: no path for {cmd!r}")
        rel = path.lstrip("/")
        if cmd == "+":
            if not (src / rel).exists():
                raise StageError(f"filespec: {src / rel} not found")
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-fpR", str(src / rel), str((dest / rel).parent) + "/"], check=True)
            _chmod(dest / rel, file_mode, dir_mode, recursive=True)
        elif cmd == "-":
            if not os.path.lexists(dest / rel):
                raise StageError(f"filespec: {dest / rel} not found")
            if (dest / rel).is_dir():
                shutil.rmtree(dest / rel)
            else:
                (dest / rel).unlink()
        elif cmd in ("=", "=="):
            if not (file_mode or dir_mode):
                raise StageError(f"filespec: no modes for {path}")
            _chmod(dest / rel, file_mode, dir_mode, recursive=cmd == "=")
        else:
            raise StageError(f"filespec: unknown command {cmd!r}")


def _chmod(path: Path, file_mode: str, dir_mode: str, recursive: bool) -> None:
    targets = [path, *path.rglob("*")] if recursive and path.is_dir() else [path]
    for p in targets:
        mode = dir_mode if p.is_dir() else file_mode
        if mode:
            subprocess.run(["chmod", mode, str(p)], check=True)


def package(name: str, install_dir: Path, build_dir: Path, dest: Path, python: str, site: str) -> None:
    """One package's tree, as Package/NAME/install of python3-package.mk makes it."""
    preset = {**OPENWRT_COMMANDS, "PKG_INSTALL_DIR": str(install_dir), "PKG_BUILD_DIR": str(build_dir),
              "PYTHON3_PKG_DIR": site}
    make = makefile(MAKEFILES[name], preset)
    dest.mkdir(parents=True)
    recipe = make.vars.get(f"Py3Package/{name}/install")
    if recipe is None:  # Py3Package's default: the package's scripts
        recipe = f'\tif [ -d {install_dir}/usr/bin ]; then install -d -m0755 $(1)/usr/bin; ' \
                 f'cp -fpR {install_dir}/usr/bin/* $(1)/usr/bin/; fi'
    script = make.expand(recipe, ["", str(dest)])
    done = subprocess.run(["sh", "-ec", script], cwd=MAKEFILES[name].parent, capture_output=True, text=True)
    if done.returncode:
        raise StageError(f"{name}: install recipe failed: {done.stderr.strip()}")
    spec = make.vars.get(f"Py3Package/{name}/filespec", "+|$(PYTHON3_PKG_DIR)")
    filespec(make.expand(spec), install_dir, dest)
    for exe in dest.rglob("*.exe"):
        exe.unlink()
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([python, "-m", "compileall", "-q", "-r", "20", "-b", "-d", "/", str(dest)], check=True,
                   env=env, capture_output=True)
    for source in dest.rglob("*.py"):
        source.unlink()
    for d in sorted((p for p in dest.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    for script in (dest / "usr" / "bin").glob("*") if (dest / "usr" / "bin").is_dir() else ():
        lines = script.read_bytes().split(b"\n", 1)
        if lines[0].startswith(b"#!") and b"python" in lines[0]:
            script.write_bytes(b"#!/usr/bin/python3\n" + (lines[1] if len(lines) > 1 else b""))


def maintainer_script(name: str, kind: str) -> str | None:
    """Package/NAME/KIND (prerm, postinst, ...) as the package carries it, make's $$ made $."""
    make = makefile(MAKEFILES[name], {})
    body = make.vars.get(f"Package/{name}/{kind}")
    return None if body is None else make.expand(body)


def build(out: Path, python: str = PYTHON) -> None:
    site = f"/usr/lib/python{python_version(python)}/site-packages"
    with tempfile.TemporaryDirectory(prefix="openwrt-stage-") as tmp:
        work = Path(tmp)
        ours = work / "install" / "hotspot"
        install_wheel(hotspot_wheel(work, python), ours, site)
        sources = {"hotspot": ours, "hotspot-portal": ours, "hotspot-snoop": ours}
        for package_name in ("python3-gunicorn", "python3-blinker"):
            sources[package_name] = work / "install" / package_name
            install_wheel(pypi_wheel(package_name, python), sources[package_name], site)
        sources["python3-nftables"] = work / "install" / "nftables"
        nftables_binding(sources["python3-nftables"], site, python)
        for name, install_dir in sources.items():
            package(name, install_dir, ROOT, out / name, python, site)
    owners: dict[str, str] = {}
    for name in sources:
        for f in files(out / name):
            if f in owners:
                raise StageError(f"{f} is in both {owners[f]} and {name}: opkg and apk refuse that")
            owners[f] = name
    sizes = {name: installed_size(out / name) for name in sources}
    (out / "sizes.json").write_text(json.dumps(sizes, indent=1, sort_keys=True) + "\n")


def files(tree: Path) -> list[str]:
    return sorted("/" + str(p.relative_to(tree)) for p in tree.rglob("*") if not p.is_dir())


def installed_size(tree: Path) -> dict:
    """What the package takes on the router: its files' bytes, and the blocks of a 4 KiB filesystem
    (overlayfs on jffs2/ubifs compresses, so flash use is less; RAM-backed /tmp is not involved)."""
    sizes = [p.stat().st_size for p in tree.rglob("*") if p.is_file()]
    return {"files": len(sizes), "bytes": sum(sizes), "kib_on_disk": sum(-(-s // 4096) * 4 for s in sizes)}


def stage(python: str = PYTHON) -> Path:
    """The staged packages' directory (cached by the hash of every input)."""
    out = CACHE / digest(python)
    if (out / "sizes.json").is_file():
        return out
    scratch = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        build(scratch, python)
        scratch.chmod(0o755)
        scratch.rename(out)
    except OSError:
        if not (out / "sizes.json").is_file():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def rootfs(staged: Path, packages: list[str], dest: Path) -> Path:
    """The router's file system with these packages installed (hard links to the staged trees)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # another file system
            shutil.copy2(src, dst)

    for name in packages:
        shutil.copytree(staged / name, dest, dirs_exist_ok=True, copy_function=link)
    return dest


def sizes(staged: Path) -> dict:
    return json.loads((staged / "sizes.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=PYTHON)
    parser.add_argument("--branch", default="openwrt-24.10", help="for the standard library's estimate")
    ns = parser.parse_args()
    staged = stage(ns.python)
    print(staged)
    for name, s in sizes(staged).items():
        print(f"{name:18} {s['files']:4} files {s['bytes'] / 1000:8.1f} kB "
              f"({s['kib_on_disk']} KiB in 4 KiB blocks)")
    for package in ("hotspot", "hotspot-portal", "hotspot-snoop"):
        held = stdlib_bytecode(f"+{package}", ns.branch, ns.python)
        print(f"+{package}: standard library ~{sum(held.values()) / 1e6:.1f} MB of bytecode on {ns.branch} "
              f"({', '.join(f'{k} {v / 1e6:.2f}' for k, v in sorted(held.items(), key=lambda kv: -kv[1]))})")



def stdlib_bytecode(depends_line: str, branch: str, python: str = PYTHON) -> dict[str, int]:
    """An estimate of the standard library a DEPENDS line installs: for each package of its closure
    (python3-light, python3-base, python3-email, ...), the bytes of its modules' bytecode as this
    machine's Python of the same version compiled them (Debian's __pycache__). C extensions, libpython
    and the third-party packages (other versions here than in the feed) are not counted."""
    guard = _load("openwrt_importguard", HERE / "importguard.py").Guard(depends_line, branch)
    code = "import sysconfig; print(sysconfig.get_paths()['stdlib'])"
    stdlib = Path(subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                                 check=True).stdout.strip())
    total: dict[str, int] = {}
    for entry in sorted(stdlib.iterdir()):
        top = entry.name.removesuffix(".py")
        if entry.name == "__pycache__" or not (entry.is_dir() or entry.suffix == ".py"):
            continue
        packages, _ = guard.holder(top)
        held = [p for p in packages if p in guard.allowed]
        if held:
            pycs = entry.rglob("*.pyc") if entry.is_dir() else (stdlib / "__pycache__").glob(f"{top}.*.pyc")
            total[held[0]] = total.get(held[0], 0) + sum(p.stat().st_size for p in pycs)
    return total


if __name__ == "__main__":
    sys.exit(main())
