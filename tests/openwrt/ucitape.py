"""A `uci` for hotspot's UciWriter that records what the real uci did, or replays that record.

hotspot runs `uci -c CONFDIR -t SAVEDIR ARGS...` on a private copy (hotspot/core/uci.py). Recording
(UCITAPE_REAL names the real uci): each call runs the real command and appends to the JSON-lines file
UCITAPE its arguments (the two directories written {config} and {save}), exit status, output, and
the files of both directories before and after. Replaying (no UCITAPE_REAL): UCITAPE is a directory
holding `expected.json`, the recorded calls; each call must be the next one recorded, with the same
arguments and the same files before, and then gets the recorded answer: the files after, the output
and the exit status. Anything else is written to `errors` there and answered with status 97, so a
change in what hotspot asks uci fails the test even where hotspot ignores uci's status.

Run as a script with `python3 -I -S`: it imports only the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def directories(args: list[str]) -> dict[str, str]:
    """{"config": CONFDIR, "save": SAVEDIR} from `-c CONFDIR -t SAVEDIR`."""
    found = {}
    for flag, name in (("-c", "config"), ("-t", "save")):
        if flag in args[:-1]:
            found[name] = args[args.index(flag) + 1]
    return found


def normalized(args: list[str], dirs: dict[str, str]) -> list[str]:
    where = {path: "{" + name + "}" for name, path in dirs.items()}
    return [where.get(a, a) for a in args]


def snapshot(dirs: dict[str, str]) -> dict[str, str]:
    """Every file of the directories, as {"config/NAME": text}."""
    files = {}
    for name, path in sorted(dirs.items()):
        for entry in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            full = os.path.join(path, entry)
            if os.path.isfile(full):
                with open(full, encoding="utf-8", newline="") as f:
                    files[f"{name}/{entry}"] = f.read()
    return files


def restore(dirs: dict[str, str], before: dict[str, str], after: dict[str, str]) -> None:
    for key in before.keys() - after.keys():
        name, entry = key.split("/", 1)
        os.unlink(os.path.join(dirs[name], entry))
    for key, text in after.items():
        name, entry = key.split("/", 1)
        os.makedirs(dirs[name], exist_ok=True)
        with open(os.path.join(dirs[name], entry), "w", encoding="utf-8", newline="") as f:
            f.write(text)


def record(tape: str, real: str, args: list[str]) -> int:
    dirs = directories(args)
    before = snapshot(dirs)
    done = subprocess.run([real, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    entry = {"args": normalized(args, dirs), "status": done.returncode, "stdout": done.stdout,
             "stderr": done.stderr, "before": before, "after": snapshot(dirs)}
    with open(tape, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def replay(tape: str, args: list[str]) -> int:
    with open(os.path.join(tape, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    position = os.path.join(tape, "position")
    n = 0
    if os.path.exists(position):
        with open(position) as f:
            n = int(f.read())
    with open(position, "w") as f:
        f.write(str(n + 1))
    dirs = directories(args)
    asked, before = normalized(args, dirs), snapshot(dirs)
    if n >= len(expected):
        problem = f"call {n + 1}: uci was asked {asked}, beyond the {len(expected)} recorded calls"
    elif asked != expected[n]["args"]:
        problem = f"call {n + 1}: uci was asked {asked}, recorded {expected[n]['args']}"
    elif before != expected[n]["before"]:
        problem = f"call {n + 1} ({' '.join(asked)}): its files differ from the recorded ones"
    else:
        entry = expected[n]
        restore(dirs, before, entry["after"])
        sys.stdout.write(entry["stdout"])
        sys.stderr.write(entry["stderr"])
        return entry["status"]
    with open(os.path.join(tape, "errors"), "a", encoding="utf-8") as f:
        f.write(problem + "\n")
    sys.stderr.write(f"ucitape: {problem}\n")
    return 97


def main() -> int:
    tape, real = os.environ["UCITAPE"], os.environ.get("UCITAPE_REAL")
    return record(tape, real, sys.argv[1:]) if real else replay(tape, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
