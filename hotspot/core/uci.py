"""UCI syntax: reading a config file as OpenWrt's uci reads it, and setting options in it.

The reader follows libuci's own parser (file.c) step by step, quirks included, so that a file means the
same to hotspot as to uci, LuCI and every script on the router: a backslash at the end of a line joins
the next one, a quoted value may span lines, the one-letter keywords (c, o, l, p) work, a named section
given twice is one section, `option NAME ''` (or with no value) sets nothing, and a ';' right after an
unquoted word ends the line. We parse it ourselves rather than through libuci's bindings so that the
same code runs on a Debian lab box, and so that every mistake in a file is reported at once, each with
its line (uci stops at the first). What the options mean is not known here: the reader hands over one
section type's statements and the caller judges their names and values. tests/openwrt/test_uci.py
holds this reader to the real uci; openwrt/host/README.md lists what still differs.

On a router, options are changed through uci itself (`UciWriter`); elsewhere the file is edited in
place, keeping every other line and comment (`write_options`).
"""

from __future__ import annotations

import bisect
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from hotspot.core.files import write_atomic
from hotspot.core.units import quote

NAME = re.compile(r"[A-Za-z0-9_]+", re.ASCII)  # what names a section or an option
T = TypeVar("T")
_SPACE = " \t\n\v\f\r"  # C's isspace()
_KEYWORDS = {"p": "package", "package": "package", "c": "config", "config": "config",
             "o": "option", "option": "option", "l": "list", "list": "list"}


class UciSyntaxError(ValueError):
    """One statement that cannot be read; str() is the reason, in one line."""


class Statement(NamedTuple):
    """One statement as uci reads it: keyword is package, config, option or list whichever spelling
    the file used; args are its words, unquoted (an option without a value has one); text[start:end]
    is the statement from its keyword to the end of its last word; line is where it starts."""

    keyword: str
    args: tuple[str, ...]
    line: int
    start: int
    end: int


# A statement of a section, as (keyword, option, value, line): keyword is 'option' or 'list'.
Setting = tuple[str, str, str, int]
# Problems found, as (line, reason).
Errors = list[tuple[int, str]]


class _Parser:
    """libuci's parser (file.c: uci_getln, parse_str, next_arg, uci_parse_line) over a text. As in C,
    words are unquoted in place in a buffer that holds the current line (with the lines that a quote
    or a trailing backslash pulls in), and '\\0' written into it ends it there."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.next_line = 0
        self.buf: list[str] = []
        self.offs: list[int] = []  # where each character of buf is in text
        self.pos = self.target = 0
        self.word_end = 0  # buf position where the last word stopped
        self.cut: list[tuple[int, str]] = []  # (offset, reason): text uci silently skips
        self.keyword: str | None = None  # of the statement being read

    def getln(self, offset: int) -> bool:
        """Replace the buffer from `offset` on with the next line of the text; False at its end."""
        del self.buf[offset:], self.offs[offset:]
        if self.next_line >= len(self.starts) or self.starts[self.next_line] >= len(self.text):
            return False
        start = self.starts[self.next_line]
        end = self.starts[self.next_line + 1] if self.next_line + 1 < len(self.starts) else len(self.text)
        self.next_line += 1
        self.buf += self.text[start:end]
        self.offs += range(start, end)
        return True

    def ch(self, i: int) -> str:
        return self.buf[i] if i < len(self.buf) else "\0"

    @property
    def cur(self) -> str:
        return self.ch(self.pos)

    def terminate(self, i: int) -> None:
        if i < len(self.buf):
            self.buf[i] = "\0"

    def cstr(self, i: int) -> str:
        """The C string at buffer position i: up to the first '\\0' written into it."""
        s = "".join(self.buf[i:])
        return s.split("\0", 1)[0]

    def offset(self, i: int) -> int:
        return self.offs[i] if i < len(self.offs) else (self.offs[-1] + 1 if self.offs else 0)

    def lineno(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def skip_whitespace(self) -> None:
        while self.cur != "\0" and self.cur in _SPACE:
            self.pos += 1

    def addc(self) -> None:
        self.buf[self.target] = self.buf[self.pos]
        self.target += 1
        self.pos += 1

    def backslash(self) -> bool:
        """Skip a backslash; False when it ends the line, which then goes on with the next one."""
        self.pos += 1
        c = self.cur
        if c in "\0\n" or (c == "\r" and self.ch(self.pos + 1) == "\n" and self.ch(self.pos + 2) == "\0"):
            self.getln(self.pos)
            return False
        return True

    def quoted(self, quote_char: str) -> None:
        self.pos += 1
        while True:
            c = self.cur
            if c == quote_char:
                self.pos += 1
                return
            if c == "\0":  # the value goes on on the next line
                if not self.getln(self.pos) or self.cur == "\0":
                    raise UciSyntaxError(f"unterminated {quote_char} quote")
            elif c == "\\" and quote_char == '"' and not self.backslash():
                continue
            else:
                self.addc()

    def word(self) -> None:
        """parse_str: one word, its quoted parts unquoted, into the buffer at self.target."""
        go_on = True
        while True:
            c = self.cur
            if c in "'\"":
                self.quoted(c)
            elif c == "#":
                self.terminate(self.pos)
                break
            elif c == "\0":
                break
            elif c == ";":
                go_on = False
                rest = self.cstr(self.pos + 1).split("\n", 1)[0].strip(_SPACE)
                if self.target == self.pos and rest and not rest.startswith("#"):
                    # the word's end overwrites the ';' and with it the rest of the line
                    self.cut.append((self.offset(self.pos), "uci ignores what follows a ';' right after an "
                                     "unquoted word: put a space before the ';' or quote the word"))
                break
            elif c == "\\" and not self.backslash():
                pass
            else:
                self.addc()
            if self.cur == "\0" or self.cur in _SPACE:
                break
        self.word_end = self.pos
        if self.cur != "\0" and go_on:
            self.pos += 1
        self.terminate(self.target)

    def next_arg(self) -> str:
        self.skip_whitespace()
        start = self.target = self.pos
        word_end, self.word_end = self.word_end, start
        if self.cur == ";":
            self.terminate(self.pos)
            self.pos += 1
        else:
            self.word()
        if self.word_end <= start:
            self.word_end = word_end  # no word here ('' is one): the statement ends where the last did
        return self.cstr(start)

    def line(self, found: list[Statement]) -> None:
        """uci_parse_line: the statements of one line (and of the lines it pulls in)."""
        self.skip_whitespace()
        while True:
            rest = self.cstr(self.pos)
            i = len(rest) - len(rest.lstrip(" \t"))  # strtok(rest, " \t")
            if i == len(rest):
                return
            j = i
            while j < len(rest) and rest[j] not in " \t":
                j += 1
            word, start = rest[i:j], self.offset(self.pos + i)
            self.terminate(self.pos + j)
            if word[0] == "#":
                return
            self.keyword = _KEYWORDS.get(word.rstrip(_SPACE))
            keyword = _KEYWORDS.get(word)
            if keyword is None:
                bare = _KEYWORDS.get(word.rstrip(_SPACE))
                raise UciSyntaxError(_ARGS[bare] if bare else
                                     f"unknown statement {quote(word)}; expected config, option or list")
            if self.pos + j + 1 > len(self.buf):  # the keyword ends the text
                raise UciSyntaxError(_ARGS[keyword])
            self.pos += j + 1
            self.word_end = self.pos - 1
            args = [self.next_arg() for _ in range(1 if keyword == "package" else 2)]
            end = self.offset(self.word_end)
            if self.next_arg():
                raise UciSyntaxError(_ARGS[keyword])
            found.append(Statement(keyword, tuple(args), self.lineno(start), start, end))


_ARGS = {"package": "'package' takes one name", "config": "'config' takes a type and an optional name",
         "option": "'option' takes a name and one value (quote a value with spaces)",
         "list": "'list' takes a name and one value (quote a value with spaces)"}


def parse(text: str, errors: Errors) -> list[Statement]:
    """The file's statements as uci reads them. A statement uci refuses is added to `errors` with its
    line, and reading goes on with the next line (uci itself stops there)."""
    p = _Parser(text)
    found: list[Statement] = []
    while p.getln(0):
        p.pos = 0
        first = p.lineno(p.offs[0]) if p.offs else 0
        try:
            p.line(found)
        except UciSyntaxError as e:
            errors.append((first, str(e)))
            if p.keyword == "config":  # what follows is in no section we know
                found.append(Statement("config", (_UNREADABLE, ""), first, 0, 0))
    errors += [(p.lineno(offset), reason) for offset, reason in p.cut]
    kept = []
    for s in found:
        reason = _invalid(s) if s.args[0] != _UNREADABLE else None
        if reason:
            errors.append((s.line, reason))
            if s.keyword != "config":
                continue
            # read on in a section of its type when only its name is wrong, else in none we know
            kind = s.args[0] if _invalid(s._replace(args=(s.args[0], ""))) is None else _UNREADABLE
            s = s._replace(args=(kind, ""))
        kept.append(s)
    return sorted(kept, key=lambda s: s.line)


_UNREADABLE = "\0"  # the type of a section whose config statement uci refuses


def _invalid(s: Statement) -> str | None:
    """What uci refuses in a statement's words (uci_validate_str), or None."""
    first, second = s.args[0], s.args[-1]
    if not first:
        return _ARGS[s.keyword]
    if s.keyword == "package" and not re.fullmatch(r"[A-Za-z0-9_-]+", first, re.ASCII):
        return f"{quote(first)} is not a valid package name"
    if s.keyword == "config":
        if not all("!" <= c <= "~" for c in first):
            return f"{quote(first)} is not a valid section type or name"
        if second and not NAME.fullmatch(second):
            return f"{quote(second)} is not a valid section type or name"
    if s.keyword in ("option", "list") and not NAME.fullmatch(first):
        return f"{quote(first)} is not a valid option name"
    return None


@dataclass
class Section:
    """A section as uci builds it: a named section given twice is one; `statements` are its option
    and list statements in file order."""

    type: str
    name: str | None  # None: anonymous
    config: Statement  # the (first) config statement
    statements: list[Statement] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.config.line

    @property
    def settings(self) -> list[Setting]:
        return [(s.keyword, s.args[0], s.args[1], s.line) for s in self.statements]

    def values(self) -> dict[str, str | list[str]]:
        """Its options as uci holds them: a string, or a list's items. `option NAME ''` sets nothing;
        an option replaces a list, a list entry after an option makes a list of both."""
        found: dict[str, str | list[str]] = {}
        for keyword, name, value, _line in self.settings:
            if keyword == "option":
                if value:
                    found[name] = value
            else:
                before = found.get(name)
                found[name] = [*(before if isinstance(before, list) else [before] if before else []), value]
        return found


def sections(statements: list[Statement], errors: Errors) -> list[Section]:
    """The sections the statements make, in uci's order."""
    found: list[Section] = []
    named: dict[str, Section] = {}
    current: Section | None = None
    for s in statements:
        if s.keyword == "package":
            continue
        if s.keyword == "config":
            kind, name = s.args
            if kind == _UNREADABLE:
                current = Section(kind, None, s)  # read on, but belongs to nothing
            elif not name:
                current = Section(kind, None, s)
                found.append(current)
            elif name in named and named[name].type != kind:
                other = named[name]
                errors.append((s.line, f"section '{name}' is a '{other.type}' (line {other.line}), "
                                       f"not a {quote(kind)}"))
                current = Section(kind, name, s)  # read on, but belongs to nothing
            else:
                current = named.get(name)
                if current is None:
                    current = named[name] = Section(kind, name, s)
                    found.append(current)
        elif current is None:
            errors.append((s.line, f"'{s.keyword}' before the first 'config' line"))
        else:
            current.statements.append(s)
    return found


def read_text(path: str, errors: Errors, refuse: Callable[[str], Exception]) -> str:
    """The file's text, each line decoded on its own (a line that is not UTF-8 is an error of its own
    and is still read, for the errors on other lines). A missing or unreadable file is the one error
    there is to report: raised as refuse(reason)."""
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
        if "\0" in lines[-1]:
            errors.append((lineno, "a NUL character"))
            lines[-1] = lines[-1].replace("\0", "")
    return "\n".join(lines)


def section_settings(text: str, section_type: str, judge: Callable[[str, str], str | None],
                     errors: Errors) -> list[Setting]:
    """The option and list statements of the one section of `section_type`, in file order. Every
    statement of the file is syntax-checked; a second section of our type is refused (hotspot has one
    set of settings); `judge(keyword, option)` gives the reason an option of ours is refused (an
    unknown name, a list of a single-valued option), or None. Each problem is added to `errors` and
    reading goes on with the next statement."""
    ours = [s for s in sections(parse(text, errors), errors) if s.type == section_type]
    for other in ours[1:]:
        errors.append((other.line,
                       f"a second '{section_type}' section (the first is on line {ours[0].line})"))
    found: list[Setting] = []
    for setting in sorted((s for section in ours for s in section.settings), key=lambda s: s[3]):
        reason = judge(setting[0], setting[1])
        if reason is None:
            found.append(setting)
        else:
            errors.append((setting[3], reason))
    return found


def uci_options(text: str, section_type: str) -> dict[str, str]:
    """The options (not lists) of the first section of one type in another package's UCI file (e.g.
    the firewall's defaults, as `uci get firewall.@defaults[0].NAME` reads them), best effort: the
    statements uci would refuse are skipped, as that file is not ours to judge."""
    ignored: Errors = []
    for section in sections(parse(text, ignored), ignored):
        if section.type == section_type:
            return {k: v for k, v in section.values().items() if isinstance(v, str)}
    return {}


def quote_value(value: object) -> str:
    """A value as UCI writes it: in single quotes, a quote inside as '\\''."""
    return "'" + str(value).replace("'", "'\\''") + "'"


# --- changing options --------------------------------------------------------------------------------


def write_options(path: str, values: dict[str, str], section_type: str, check: Callable[[str], T]) -> T:
    """Set options of the `section_type` section in the file, keeping every other line and comment as it
    is: an option already set is replaced where it stands (the line's other statements and its comment
    stay; a list of that name ends where the new option stands, as uci reads it), a new one goes after
    the section's last statement (a new section at the end when there is none); '' removes the option.
    `check(tmp)` reads the new file before it replaces the old one: what it raises leaves the old file as
    it was; what it returns is returned. The file keeps its mode and owner (it may hold secrets: 0600)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    ours = [s for s in sections(parse(text, []), []) if s.type == section_type]
    edits: list[tuple[int, int, str]] = []
    added: list[str] = []
    for key, value in values.items():
        mine = [s for s in ours[0].statements if s.args[0] == key] if ours else []
        new = f"option {key} {quote_value(value)}"
        if value == "":
            edits += [_removal(text, s) for s in mine]
        elif not mine:
            added.append(f"\t{new}")
        else:
            edits += [(s.start, s.end, new) for s in mine if s.keyword == "option" and s is not mine[-1]]
            edits.append((mine[-1].start, mine[-1].end, new))
    if added:
        if ours:
            last = max([ours[0].config, *ours[0].statements], key=lambda s: s.end)
            line_end = text.find("\n", last.end)
            line_end = len(text) if line_end < 0 else line_end
            if text[last.end:line_end].strip() and not text[last.end:line_end].lstrip().startswith("#"):
                at, added = last.end, [" ; " + "; ".join(a.strip() for a in added)]  # more on its line
            else:
                at = line_end + 1 if line_end < len(text) else len(text)
        else:
            at, added = len(text), [f"config {section_type} 'main'", *added]
        new = "\n".join(added) if added[0].startswith(" ; ") else "\n".join(added) + "\n"
        prefix = "" if at == 0 or text[at - 1] == "\n" or new.startswith(" ; ") else "\n"
        edits.append((at, at, prefix + new))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    checked: list[T] = []
    write_atomic(os.fspath(path), text, keep=True, check=lambda tmp: checked.append(check(tmp)))
    return checked[0]


def _removal(text: str, s: Statement) -> tuple[int, int, str]:
    """The edit that removes a statement: its whole line when nothing else is on it, else the statement
    and the ';' after it."""
    start, end = s.start, s.end
    tail = re.match(r"[ \t]*(;[ \t]*)?", text[end:])
    end += tail.end() if tail else 0
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if not text[line_start:start].strip() and not text[end:line_end].strip():
        return line_start, min(line_end + 1, len(text)), ""
    return start, end, ""


class UciWriter:
    """Options changed through OpenWrt's uci command, for a file that uci and LuCI also change.

    LuCI stages an owner's changes in uci's save directory (/tmp/.uci) until they press Save & Apply;
    `uci commit` of the package would commit those too, even with a save directory of our own (`-t`
    moves the save directory but the default one stays on uci's search path for changes). So uci works
    on a private copy of the file under another package name, which nobody's staged changes name, with
    a private save directory, and `uci commit` writes it; the result replaces the file under the lock
    uci's own commit takes. The owner's staged changes stay staged, and apply over ours when they commit
    them. uci writes the file as `uci commit` always does: comments are not kept."""

    def __init__(self, command: str):
        self.command = command

    @classmethod
    def for_file(cls, path: str) -> UciWriter | None:
        """The writer for `path`, or None to edit the file itself: HOTSPOT_UCI names the uci command ('',
        none); otherwise /sbin/uci is used for a file under /etc/config."""
        forced = os.environ.get("HOTSPOT_UCI")
        if forced is not None:
            return cls(forced) if forced else None
        if os.path.dirname(os.path.abspath(path)) == "/etc/config" and os.access("/sbin/uci", os.X_OK):
            return cls("/sbin/uci")
        return None

    def write(self, path: str, values: dict[str, str], section_type: str, check: Callable[[str], T]) -> T:
        """As write_options (check(tmp) judges the new file first), but uci writes it."""
        path = os.fspath(path)
        with open(path, "rb") as f, tempfile.TemporaryDirectory(prefix="hotspot-uci.") as work:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # as uci commit does: one commit at a time
            package = "hotspot_write"
            confdir, savedir = os.path.join(work, "config"), os.path.join(work, "save")
            os.mkdir(confdir, 0o700)
            copy = os.path.join(confdir, package)
            shutil.copyfile(path, copy)
            ours = [s for s in sections(parse(f.read().decode("utf-8", "replace"), []), [])
                    if s.type == section_type]
            section = (ours[0].name or f"@{section_type}[0]") if ours else "main"
            if not ours:
                self.uci(confdir, savedir, "set", f"{package}.main={section_type}")
            for key, value in values.items():
                if value == "":
                    self.uci(confdir, savedir, "delete", f"{package}.{section}.{key}", must=False)
                else:
                    self.uci(confdir, savedir, "set", f"{package}.{section}.{key}={value}")
            self.uci(confdir, savedir, "commit", package)
            checked: list[T] = []
            with open(copy, "rb") as new:
                write_atomic(path, new.read(), keep=True, check=lambda tmp: checked.append(check(tmp)))
            return checked[0]

    def uci(self, confdir: str, savedir: str, *args: str, must: bool = True) -> None:
        done = subprocess.run([self.command, "-c", confdir, "-t", savedir, *args], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        if done.returncode and must:
            reason = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
            raise OSError(f"uci {args[0]}: {reason[-1]}")
