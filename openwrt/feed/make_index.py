"""Write the index of the binary packages an OpenWrt feed defines, from a git snapshot of the feed.

    python3 openwrt/feed/make_index.py --git-dir DIR --commit SHA --branch openwrt-24.10 \
        --repo openwrt/packages --out openwrt/feed/openwrt-24.10.json

It reads the Makefiles (and the .mk files they include) of the commit straight from git, evaluates them
with minimake, and writes one JSON object: where it came from, and every package with its DEPENDS line
and the Makefile that defines it. It builds nothing and runs nothing from the feed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import minimake  # noqa: E402


class GitTree:
    """The text files of one commit, read with one `git cat-file --batch`."""

    def __init__(self, git_dir: str, commit: str, want=lambda path: True) -> None:
        listing = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", commit],
                                 check=True, capture_output=True, text=True).stdout
        blobs = {}
        for line in listing.splitlines():
            meta, path = line.split("\t", 1)
            _, kind, sha = meta.split()
            if kind == "blob" and want(path):
                blobs[path] = sha
        self.listing = sorted(blobs)
        self.files: dict[str, str] = {}
        wanted = "\n".join(blobs.values()).encode() + b"\n"
        data = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "--batch"], input=wanted,
                              capture_output=True, check=True).stdout
        pos = 0
        for path in blobs:
            header_end = data.index(b"\n", pos)
            header = data[pos:header_end].split()
            pos = header_end + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            self.files[path] = data[pos : pos + size].decode("utf-8", "replace")
            pos += size + 1

    def __call__(self, path: str) -> str | None:
        return self.files.get(path)


def is_make_source(path: str) -> bool:
    return path.endswith("/Makefile") or path.endswith(".mk")


def index(tree, makefiles: list[str], preset: dict[str, str] | None = None) -> dict:
    packages: dict[str, dict] = {}
    unresolved: dict[str, list[str]] = {}
    for path in makefiles:
        found, bad = minimake.packages(path, tree, preset)
        for name, pkg in found.items():
            info = {"depends": pkg.depends, "makefile": path}
            if pkg.provides:
                info["provides"] = pkg.provides
            packages.setdefault(name, info)
        if bad:
            unresolved[path] = bad
    return {"packages": dict(sorted(packages.items())), "unresolved": dict(sorted(unresolved.items()))}


def feed_makefiles(tree: GitTree) -> list[str]:
    """Package Makefiles: CATEGORY/.../NAME/Makefile, not the Makefiles of sources shipped in the feed."""
    return [p for p in tree.listing
            if p.endswith("/Makefile") and p.count("/") >= 2 and "/src/" not in p and "/files/" not in p]


def write(result: dict, out: str) -> None:
    """One package a line, so a diff between two indexes reads as the packages that changed."""
    lines = ["{"]
    for key in ("source", "count", "unresolved"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(result[key], sort_keys=True)},")
    lines.append('  "packages": {')
    items = list(result["packages"].items())
    for k, (name, info) in enumerate(items):
        comma = "," if k < len(items) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(info, sort_keys=True)}{comma}")
    lines.append("  }")
    lines.append("}")
    Path(out).write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--git-dir", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--branch", required=True)
    ap.add_argument("--repo", default="openwrt/packages")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    full = subprocess.run(["git", f"--git-dir={a.git_dir}", "rev-parse", a.commit],
                          check=True, capture_output=True, text=True).stdout.strip()
    date = subprocess.run(["git", f"--git-dir={a.git_dir}", "log", "-1", "--format=%cI", full],
                          check=True, capture_output=True, text=True).stdout.strip()
    tree = GitTree(a.git_dir, full, is_make_source)
    result = index(tree, feed_makefiles(tree))
    result["source"] = {"repo": a.repo, "branch": a.branch, "commit": full, "date": date}
    result["count"] = len(result["packages"])
    write(result, a.out)
    print(f"{a.out}: {result['count']} packages, {len(result['unresolved'])} Makefiles with unresolved names")


if __name__ == "__main__":
    main()
