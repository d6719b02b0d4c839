"""UCI syntax: reading a config file's statements, and setting options in it without touching the rest.

We parse UCI ourselves rather than through libuci's bindings so the same code runs on a Debian lab box, and
so every mistake in a file is reported at once, each with its line. What the options mean is not known
here: the reader hands over one section type's statements and the caller judges their names and values.
Where this reader and OpenWrt's own uci differ is listed in openwrt/host/README.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar

from hotspot.core.files import write_atomic
from hotspot.core.units import quote

NAME = re.compile(r"[A-Za-z0-9_]+", re.ASCII)  # what names a section type, a section or an option
T = TypeVar("T")


class UciSyntaxError(ValueError):
    """One statement that cannot be read; str() is the reason, in one line."""


def statements(line: str) -> list[list[str]]:
    """Split one line into statements (';' separates them) of words, honouring UCI quoting and comments."""
    return [words for words, _start, _end in spans(line)]


def spans(line: str) -> list[tuple[list[str], int, int]]:
    """The line's statements, each as (words, start, end): line[start:end] is the statement's text
    from its first word's first character to its last word's last, without separators or comment."""
    found: list[tuple[list[str], int, int]] = []
    words: list[str] = []
    start = end = 0
    word: str | None = None  # None between words; '' for a quoted empty string
    i = 0

    def close() -> None:
        nonlocal words
        if words:
            found.append((words, start, end))
        words = []

    while i < len(line):
        c = line[i]
        if word is None and c not in " \t\r\f\v#;" and not words:
            start = i
        if c in " \t\r\f\v" or c in "#;":
            if word is not None:
                words.append(word)
                word, end = None, i
            if c == "#":
                break
            if c == ";":
                close()
        elif c == "'":
            close_at = line.find("'", i + 1)
            if close_at < 0:
                raise UciSyntaxError("unterminated ' quote")
            word = (word or "") + line[i + 1 : close_at]
            i = close_at
        elif c == '"':
            i += 1
            part = []
            while i < len(line) and line[i] != '"':
                if line[i] == "\\" and i + 1 < len(line):
                    i += 1
                part.append(line[i])
                i += 1
            if i >= len(line):
                raise UciSyntaxError('unterminated " quote')
            word = (word or "") + "".join(part)
        elif c == "\\":
            if i + 1 >= len(line):
                raise UciSyntaxError("backslash at the end of a line (continued lines are not supported)")
            i += 1
            word = (word or "") + line[i]
        else:
            word = (word or "") + c
        i += 1
    if word is not None:
        words.append(word)
        end = i
    close()
    return found


def quote_value(value: object) -> str:
    """A value as UCI writes it: in single quotes, a quote inside as '\\''."""
    return "'" + str(value).replace("'", "'\\''") + "'"


# A statement of our section, as (keyword, option, value, line): keyword is 'option' or 'list'.
Setting = tuple[str, str, str, int]
# Problems found, as (line, reason).
Errors = list[tuple[int, str]]


def read_lines(path: str, errors: Errors, refuse: Callable[[str], Exception]) -> list[str]:
    """The file's lines, each decoded on its own (a line that is not UTF-8 is an error of its own and
    is still read, for the errors on other lines). A missing or unreadable file is the one error there
    is to report: raised as refuse(reason)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise refuse(f"{path}: no such file") from None
    except OSError as e:
        raise refuse(f"{path}: {e.strerror or e}") from None
    lines = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            errors.append((lineno, "not UTF-8 text"))
            lines.append(raw.decode("utf-8", "replace"))
    return lines


def section_settings(lines: list[str], section_type: str, judge: Callable[[str, str], str | None],
                     errors: Errors) -> list[Setting]:
    """The option and list statements of the one section of `section_type`, in file order. Every
    statement of the file is syntax-checked; `judge(keyword, option)` gives the reason an option of
    ours is refused (an unknown name, a list of a single-valued option), or None. Each problem is added
    to `errors` and reading goes on with the next statement."""
    found: list[Setting] = []
    section: str | None = None  # type of the current section; '' for one whose 'config' line is unreadable
    ours_at = 0  # line of our section, once seen
    for lineno, line in enumerate(lines, 1):
        try:
            parsed = statements(line)
        except UciSyntaxError as e:
            errors.append((lineno, str(e)))
            continue
        for keyword, *args in parsed:
            reason = None
            if keyword == "package":
                if len(args) != 1:
                    reason = "'package' takes one name"
            elif keyword == "config":
                section = args[0] if args and NAME.fullmatch(args[0]) else ""
                if section == section_type and ours_at:
                    reason = f"a second '{section_type}' section (the first is on line {ours_at})"
                elif section == section_type:
                    ours_at = lineno
                if reason is None and not 1 <= len(args) <= 2:
                    reason = "'config' takes a type and an optional name"
                for a in args if reason is None else ():
                    if not NAME.fullmatch(a):
                        reason = f"{quote(a)} is not a valid section type or name"
                        break
            elif keyword in ("option", "list"):
                if section is None:
                    reason = f"'{keyword}' before the first 'config' line"
                elif len(args) != 2:
                    reason = f"'{keyword}' takes a name and one value (quote a value with spaces)"
                elif not NAME.fullmatch(args[0]):
                    reason = f"{quote(args[0])} is not a valid option name"
                elif section == section_type:
                    reason = judge(keyword, args[0])
                    if reason is None:
                        found.append((keyword, args[0], args[1], lineno))
            else:
                reason = f"unknown statement {quote(keyword)}; expected config, option or list"
            if reason is not None:
                errors.append((lineno, reason))
    return found


def uci_options(text: str, section_type: str) -> dict[str, str]:
    """The options of every section of one type in another package's UCI file (e.g. the firewall's
    defaults), best effort: lines that do not parse are skipped, as that file is not ours to judge."""
    found: dict[str, str] = {}
    section = None
    for line in text.splitlines():
        try:
            parsed = statements(line)
        except UciSyntaxError:
            continue
        for keyword, *args in parsed:
            if keyword == "config" and args:
                section = args[0]
            elif keyword == "option" and section == section_type and len(args) == 2:
                found[args[0]] = args[1]
    return found


def _section_at(section: str | None, parsed: list, start: int) -> str | None:
    """The section a statement at `start` of a line is in: a 'config' earlier on the line opens one."""
    for (keyword, *args), at, _end in parsed:
        if at < start and keyword == "config":
            section = args[0] if args else None
    return section


def write_options(path: str, values: dict[str, str], section_type: str, check: Callable[[str], T]) -> T:
    """Set options of the `section_type` section in the file, keeping every other line and comment as it
    is: an option already set is replaced where it stands (the line's other statements and its comment
    stay), a new one goes at the end of the section (a new section when there is none). `check(tmp)`
    reads the new file before it replaces the old one: what it raises leaves the old file as it was;
    what it returns is returned. The file keeps its mode and owner (it may hold secrets: 0600)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    section, ours_end, done = None, None, set()
    for i, line in enumerate(lines):
        try:
            parsed = spans(line)
        except UciSyntaxError:
            continue
        for (keyword, *args), start, end in reversed(parsed):
            if keyword == "option" and len(args) == 2 and args[0] in values and \
                    _section_at(section, parsed, start) == section_type:
                line = f"{line[:start]}option {args[0]} {quote_value(values[args[0]])}{line[end:]}"
                done.add(args[0])
        lines[i] = line
        for (keyword, *args), _start, _end in parsed:
            if keyword == "config":
                section = args[0] if args else None
            if section == section_type:
                ours_end = i
    if ours_end is None:
        lines[:0] = [f"config {section_type} 'main'"]
        ours_end = 0
    lines[ours_end + 1:ours_end + 1] = [f"\toption {k} {quote_value(v)}" for k, v in values.items()
                                        if k not in done]
    checked: list[T] = []
    write_atomic(os.fspath(path), "\n".join(lines), keep=True, check=lambda tmp: checked.append(check(tmp)))
    return checked[0]
