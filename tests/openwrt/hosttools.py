"""OpenWrt's uci command, built for this machine from openwrt/vendor/uci, and a reader of its output."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.openwrt.repo import OPENWRT, ROOT

SOURCES = [OPENWRT / "host" / "CMakeLists.txt", *sorted((OPENWRT / "vendor" / "uci").glob("*.[ch]"))]


def build() -> Path:
    """The built host tools' directory, under .artifacts/openwrt-host/ and named by the hash of their
    sources, so a build is made once and reused until a source changes."""
    digest = hashlib.sha256()
    for path in SOURCES:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    out = ROOT / ".artifacts" / "openwrt-host" / digest.hexdigest()[:16]
    if (out / "uci").is_file():
        return out
    scratch = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    subprocess.run(["cmake", "-S", str(OPENWRT / "host"), "-B", str(scratch)], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", str(scratch), "-j2"], check=True, capture_output=True)
    try:
        scratch.rename(out)
    except OSError:  # another session built it first
        shutil.rmtree(scratch, ignore_errors=True)
    return out


@dataclass
class Section:
    type: str
    name: str
    options: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)


def export(uci: Path, config_dir: Path, package: str) -> list[Section]:
    """`uci -c DIR -n export PACKAGE`, read back: the sections as uci parsed them (anonymous ones named
    by uci, cfgXXXXXX). Raises CalledProcessError with uci's own message when uci refuses the file."""
    done = subprocess.run([str(uci), "-c", str(config_dir), "-n", "export", package], capture_output=True,
                          text=True, check=True)
    words = iter(shlex.split(done.stdout))  # values may hold newlines: read words, not lines
    sections: list[Section] = []
    for keyword in words:
        if keyword == "package":
            next(words)
        elif keyword == "config":
            sections.append(Section(next(words), next(words)))
        elif keyword == "option":
            name = next(words)
            sections[-1].options[name] = next(words)
        elif keyword == "list":
            name = next(words)
            sections[-1].lists.setdefault(name, []).append(next(words))
        else:
            raise ValueError(f"unexpected word {keyword!r} in uci export")
    return sections
