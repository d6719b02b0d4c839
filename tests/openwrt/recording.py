"""What OpenWrt's tools answered when tests/openwrt/record.py ran them (tests/openwrt/recorded/), read for
the tests: uci's readings, the taped uci calls of hotspot's write path and their replay, procd's messages."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RECORDED = Path(__file__).parent / "recorded"
RERECORD = ("re-record with the real uci: python -m tests.openwrt.record --uci UCI --uci-commit SHA --jshn "
            "JSHN --libubox-commit SHA --openwrt DIR (openwrt/host/README.md)")


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@functools.cache
def load(kind: str) -> dict:
    return json.loads((RECORDED / f"{kind}.json").read_text())


def reading(name: str) -> dict:
    return load("uci_read")["readings"][name]


def same_input(name: str, text: str, what: str) -> dict:
    """The recorded reading of `name`, after checking hotspot still makes that file byte for byte."""
    entry = reading(name)
    assert text == entry["input"], f"hotspot now writes {what} differently: {RERECORD}"
    return entry


@dataclass
class Section:
    type: str
    name: str
    options: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)


def exported(text: str) -> list[Section]:
    """`uci -n export` output read back: the sections as uci parsed them (anonymous ones named
    cfgXXXXXX by uci)."""
    words = iter(shlex.split(text))  # values may hold newlines: read words, not lines
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


def uci_view(entry: dict) -> list[tuple[str, str, dict]]:
    """(type, name, options and lists) of each section as uci read the recorded file."""
    assert entry["status"] == 0, f"uci refused it: {entry['stderr']}"
    return [(s.type, s.name, {**s.options, **s.lists}) for s in exported(entry["export"])]


def uci_rewrite(entry: dict) -> str:
    """The file as `uci commit` writes it back (`uci export`)."""
    return entry.get("rewrite", entry["export"])


# -- the write path ---------------------------------------------------------------------------------------


def scenario(name: str) -> dict:
    return load("uci_writes")["scenarios"][name]


def text(key: str) -> str:
    return load("uci_writes")["texts"][key]


def expanded(calls: list[dict]) -> list[dict]:
    """The taped calls with each file's text in place of its key."""
    return [{**c, "before": {k: text(v) for k, v in c["before"].items()},
             "after": {k: text(v) for k, v in c["after"].items()}} for c in calls]


class Replay:
    """A uci (tests/openwrt/ucitape.py) that answers only the recorded calls of one step, in order."""

    def __init__(self, directory: Path, command: str):
        self.directory, self.command = directory, command

    @contextmanager
    def step(self, calls: list[dict], what: str):
        for name in ("expected.json", "position", "errors"):
            (self.directory / name).unlink(missing_ok=True)
        (self.directory / "expected.json").write_text(json.dumps(expanded(calls)))
        saved = {k: os.environ.get(k) for k in ("HOTSPOT_UCI", "UCITAPE", "UCITAPE_REAL")}
        os.environ.update(HOTSPOT_UCI=self.command, UCITAPE=str(self.directory))
        os.environ.pop("UCITAPE_REAL", None)
        try:
            try:
                yield self.env
            except Exception as e:  # uci's refusal of an unrecorded call made hotspot fail
                if self.errors():
                    raise AssertionError(self.changed(what)) from e
                raise
            assert not self.errors(), self.changed(what)
            position = self.directory / "position"
            asked = int(position.read_text()) if position.exists() else 0
            assert asked == len(calls), (f"hotspot now asks uci {asked} times for {what}, recorded "
                                         f"{len(calls)}: {RERECORD}")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def changed(self, what: str) -> str:
        return f"hotspot now asks uci differently for {what}: {self.errors()[0]}; {RERECORD}"

    @property
    def env(self) -> dict[str, str]:
        return {"HOTSPOT_UCI": self.command, "UCITAPE": str(self.directory)}

    def errors(self) -> list[str]:
        path = self.directory / "errors"
        return path.read_text().splitlines() if path.exists() else []
