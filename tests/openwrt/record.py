"""Records what OpenWrt's own tools answer for hotspot's files and scripts, as data the tests check
against where no OpenWrt tool exists (tests/openwrt/recorded/, openwrt/host/README.md).

It builds nothing: it runs tools that already exist on the machine, built from their upstream sources
outside this repository, and says which commits they came from:

    sudo .venv/bin/python -m tests.openwrt.record --uci UCI --uci-commit SHA \\
        --jshn JSHN --libubox-commit SHA --openwrt DIR [--only uci_read uci_writes procd]

UCI is OpenWrt's uci command, JSHN libubox's jshn (its libraries found through its run path), DIR
OpenWrt's shell library laid out as on a router (tests/openwrt/procd_harness.py), with an ORIGIN file
naming the commit of each file. Writes uci_read.json (uci's reading of every file), uci_writes.json (the
uci commands of hotspot's write path and what uci did) and procd.json (what procd gets from the init
and hotplug scripts). procd needs root (a chroot).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.openwrt import procd_harness
from tests.openwrt.hotspot_api import dump, write_settings
from tests.openwrt.repo import FILES
from tests.openwrt.uci_inputs import (
    CONFIG,
    DIFFERENT_TYPE,
    FIREWALL,
    FORMS,
    ODD,
    REFUSALS,
    STAGED_BEFORE,
    STAGED_FORM,
    STAGED_SET,
    STARTS,
    WRITERS,
    corpus,
    generated_files,
    mode,
    read,
    run_cli,
    tape_command,
)

RECORDED = Path(__file__).parent / "recorded"
STAGED = Path("/tmp/.uci")  # uci's default save directory, where LuCI stages an owner's changes


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def header(tool: str, commits: dict[str, str], inputs: dict[str, str | bytes]) -> dict:
    return {"tool": tool, "commits": commits,
            "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "recorder": "python -m tests.openwrt.record",
            "inputs": {name: sha256(data) for name, data in inputs.items()}}


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


class Recorder:
    def __init__(self, uci: Path, work: Path):
        self.uci, self.work = str(uci), work
        self.readings: dict[str, dict] = {}
        self.scenarios: dict[str, dict] = {}
        self.tape = work / "tape.jsonl"
        self.command = tape_command(work)

    def uci_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([self.uci, *args], capture_output=True, text=True, check=check,
                              stdin=subprocess.DEVNULL)

    def reading(self, name: str, text: str, package: str = "hotspot") -> None:
        """uci's reading of `text` as a package: `-n export` (anonymous sections named) and `export`
        (the file as `uci commit` writes it)."""
        staged = STAGED / package
        assert not staged.exists(), f"{staged} holds staged changes: uci would read them"
        directory = fresh(self.work / "read")
        (directory / package).write_bytes(text.encode())
        named = self.uci_run("-c", str(directory), "-n", "export", package, check=False)
        plain = self.uci_run("-c", str(directory), "export", package, check=False)
        self.readings[name] = {"package": package, "input": text, "status": named.returncode,
                               "stderr": named.stderr, "export": named.stdout}
        if plain.stdout != named.stdout:  # anonymous sections: uci commit writes them unnamed
            self.readings[name]["rewrite"] = plain.stdout

    @contextmanager
    def writer(self, writer: str):
        """hotspot's write path for `writer`: the file edited in place, or through the real uci with each
        call taped."""
        env = ({"HOTSPOT_UCI": self.command, "UCITAPE": str(self.tape), "UCITAPE_REAL": self.uci}
               if writer == "through uci" else {"HOTSPOT_UCI": ""})
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        self.tape.unlink(missing_ok=True)
        try:
            yield env
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)

    def calls(self) -> list[dict]:
        """The taped calls since the last time, in order."""
        if not self.tape.exists():
            return []
        taped = [json.loads(line) for line in self.tape.read_text().splitlines()]
        self.tape.unlink()
        return taped

    def rewrites(self) -> None:
        for writer in WRITERS:
            for start, text in STARTS.items():
                path = fresh(self.work / "rewrite") / "hotspot"
                path.write_text(text)
                path.chmod(0o600)
                steps = []
                with self.writer(writer):
                    for i, form in enumerate(FORMS, 1):
                        write_settings(str(path), form)
                        self.reading(f"rewrite/{writer}/{start}/{i}", read(path))
                        steps.append({"form": form, "calls": self.calls(), "after": read(path),
                                      "mode": mode(path)})
                if writer == "through uci":
                    self.scenarios[f"rewrite/{start}"] = {"before": text, "mode": 0o600, "steps": steps}
            path = fresh(self.work / "cli") / "hotspot"
            path.write_text(dump(CONFIG))
            with self.writer(writer) as env:
                run_cli(path, env)
                self.reading(f"cli/{writer}", read(path))
                if writer == "through uci":
                    self.scenarios["cli"] = {"before": dump(CONFIG), "mode": mode(path), "steps": [
                        {"form": None, "calls": self.calls(), "after": read(path), "mode": mode(path)}]}

    def staged(self) -> None:
        """An owner's change staged as LuCI stages it (uci set, no commit) while hotspot writes."""
        directory = fresh(self.work / "staged")
        path = directory / "hotspot"
        path.write_text(STAGED_BEFORE)
        path.chmod(0o600)
        delta = STAGED / "hotspot"
        assert not delta.exists(), f"{delta} exists: staged changes of this machine's own"
        try:
            self.uci_run("-c", str(directory), "set", STAGED_SET)
            staged_before = read(delta)
            with self.writer("through uci"):
                write_settings(str(path), STAGED_FORM)
                step = {"form": STAGED_FORM, "calls": self.calls(), "after": read(path), "mode": mode(path)}
            staged_after = read(delta)
            changes = self.uci_run("-c", str(directory), "changes", "hotspot").stdout
            self.uci_run("-c", str(directory), "commit", "hotspot")  # the owner's Save & Apply
            committed = read(path)
        finally:
            delta.unlink(missing_ok=True)
        self.reading("staged/after", step["after"])
        self.scenarios["staged"] = {"before": STAGED_BEFORE, "mode": 0o600, "owner_set": STAGED_SET,
                                    "staged_before": staged_before, "steps": [step],
                                    "staged_after": staged_after, "changes": changes, "committed": committed}

    def own_save_directory(self) -> None:
        """Why UciWriter hides the file under another package name: `uci -t DIR commit` still reads the
        default save directory, so it commits the owner's staged changes too."""
        directory = fresh(self.work / "own")
        (directory / "hotspot").write_text("config hotspot 'main'\n\toption venue 'old'\n")
        private = str(directory / "private")
        asked = [["-c", str(directory), "set", "hotspot.main.venue=staged"],
                 ["-c", str(directory), "-t", private, "set", "hotspot.main.auth=click"],
                 ["-c", str(directory), "-t", private, "commit", "hotspot"]]
        calls = []
        try:
            for args in asked:
                done = self.uci_run(*args)
                where = {str(directory): "{config}", private: "{save}"}
                calls.append({"args": [where.get(a, a) for a in args], "status": done.returncode,
                              "stdout": done.stdout, "stderr": done.stderr})
        finally:
            (STAGED / "hotspot").unlink(missing_ok=True)
        self.scenarios["own save directory"] = {"calls": calls, "committed": read(directory / "hotspot")}

    def uci_reads(self) -> None:
        self.reading("shipped", (FILES / "hotspot.config").read_text())
        self.reading("dump", dump(ODD))
        for name, text in corpus().items():
            self.reading(f"corpus/{name}", text, package=name)
        for i, text in enumerate(generated_files()):
            self.reading(f"generated/{i:03d}", text, package="g")
        for name, text in REFUSALS.items():
            self.reading(f"refusal/{name}", text)
        self.reading("different type", DIFFERENT_TYPE)
        self.reading("firewall", FIREWALL, package="firewall")


def pooled(scenarios: dict[str, dict]) -> tuple[dict[str, dict], dict[str, str]]:
    """The scenarios with every file's text replaced by its key in a table of texts (most calls see the
    same files), and that table."""
    texts: dict[str, str] = {}

    def ref(text: str) -> str:
        key = sha256(text)[:16]
        texts[key] = text
        return key

    for scenario in scenarios.values():
        for key in ("before", "committed"):
            if key in scenario:
                scenario[key] = ref(scenario[key])
        for step in scenario.get("steps", []):
            step["after"] = ref(step["after"])
            for call in step["calls"]:
                call["before"] = {name: ref(text) for name, text in call["before"].items()}
                call["after"] = {name: ref(text) for name, text in call["after"].items()}
    return scenarios, dict(sorted(texts.items()))


def write(name: str, data: dict) -> None:
    RECORDED.mkdir(exist_ok=True)
    (RECORDED / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{RECORDED / name}.json: {(RECORDED / f'{name}.json').stat().st_size} bytes")


def record_uci(ns: argparse.Namespace, work: Path, only: set[str]) -> None:
    recorder = Recorder(ns.uci, work)
    recorder.uci_reads()
    recorder.rewrites()
    recorder.staged()
    recorder.own_save_directory()
    commits = {"openwrt/uci": ns.uci_commit, "openwrt/libubox": ns.libubox_commit}
    if "uci_read" in only:
        readings = recorder.readings
        write("uci_read", {"header": header("uci -c DIR [-n] export PACKAGE", commits,
                                            {k: v["input"] for k, v in readings.items()}),
                           "readings": readings})
    if "uci_writes" in only:
        scenarios, texts = pooled(recorder.scenarios)
        write("uci_writes", {"header": header("uci, as hotspot's UciWriter runs it", commits, texts),
                             "scenarios": scenarios, "texts": texts})


def record_procd(ns: argparse.Namespace, work: Path) -> None:
    root = fresh(work / "procd")
    procd_harness.make_root(root, ns.openwrt, ns.jshn, ns.uci)
    results = procd_harness.record(root)
    failed = procd_harness.checks(results)
    print("\n".join(f"procd check fails: {f}" for f in failed) or "procd: all checks hold")
    openwrt_files = {f"openwrt:{p.relative_to(ns.openwrt)}": p.read_bytes()
                     for p in sorted(ns.openwrt.rglob("*")) if p.is_file() and p.name != "ORIGIN"}
    inputs = {"hotspot.init": (FILES / "hotspot.init").read_bytes(),
              "hotspot.hotplug": (FILES / "hotspot.hotplug").read_bytes(),
              "config": procd_harness.config(), "network": procd_harness.NETWORK, **openwrt_files,
              "jshn": ns.jshn.read_bytes(), "uci": ns.uci.read_bytes(),
              "busybox": Path(shutil.which("busybox")).read_bytes()}
    origin = (ns.openwrt / "ORIGIN").read_text().splitlines()
    commits = {"openwrt/libubox": ns.libubox_commit, "openwrt/uci": ns.uci_commit, "shell library": origin}
    write("procd", {"header": header("OpenWrt's rc.common and procd.sh with libubox's jshn, in "
                                     "tests/openwrt/procd_harness.py's chroot", commits, inputs),
                    "actions": results})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uci", type=Path, required=True)
    parser.add_argument("--uci-commit", required=True)
    parser.add_argument("--jshn", type=Path, required=True)
    parser.add_argument("--libubox-commit", required=True)
    parser.add_argument("--openwrt", type=Path, required=True)
    parser.add_argument("--only", nargs="+", choices=["uci_read", "uci_writes", "procd"],
                        default=["uci_read", "uci_writes", "procd"])
    ns = parser.parse_args(argv)
    ns.uci, ns.jshn, ns.openwrt = ns.uci.resolve(), ns.jshn.resolve(), ns.openwrt.resolve()
    with tempfile.TemporaryDirectory(prefix="hotspot-record.") as tmp:
        if {"uci_read", "uci_writes"} & set(ns.only):
            record_uci(ns, Path(tmp), set(ns.only))
        if "procd" in ns.only:
            record_procd(ns, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
