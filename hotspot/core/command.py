"""What a capability's `hotspotctl` commands are made of (hotspot/cli gathers them into one parser).

A command declares its name, its help, its arguments (`add`), how its values are checked before
anything is opened (`parse`: a bad value is a usage error and changes nothing) and what it does
(`run(house, ns, value, env)`; it returns an ExitStatus, or None for OK).
"""

from __future__ import annotations

import argparse
import enum
import sys
from dataclasses import dataclass, field
from typing import Callable, TextIO


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2


@dataclass
class Environment:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, instead of argparse's usage dump
        raise UsageError(message)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable
    add: Callable[[argparse.ArgumentParser], None] = lambda p: None
    parse: Callable[[argparse.Namespace], object] = lambda ns: None
    house: bool = True  # it needs the house: the config, the database, the kernel
    description: str | None = None  # a longer text for `hotspotctl COMMAND --help`

    def subparsers(self, p: argparse.ArgumentParser, dest: str, metavar: str, *, required: bool = True):
        sub = p.add_subparsers(dest=dest, metavar=metavar, parser_class=Parser)
        sub.required = required
        return sub


def say(env: Environment, *lines: str) -> None:
    env.stdout.write("\n".join(lines) + "\n")


def fail(env: Environment, message: str, status: ExitStatus = ExitStatus.USAGE) -> ExitStatus:
    print(f"hotspotctl: {message}", file=env.stderr)
    return status
