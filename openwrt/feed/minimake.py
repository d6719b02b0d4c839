"""Just enough of GNU make to read OpenWrt package Makefiles without a build tree.

OpenWrt learns its package names by running make over every Makefile (scripts/metadata.pm). We have no
build tree, so this evaluates the part of make those Makefiles use to name packages: variables, define
blocks, conditionals, local includes and the functions call, eval and foreach (with the text functions
around them). Every `$(call BuildPackage,NAME)`, `$(call KernelPackage,NAME)` and `define Package/NAME`
is recorded. Anything that needs a real build tree ($(shell ...), $(TOPDIR)'s includes, CONFIG_ symbols)
expands to nothing, as it does in a tree where the option is off; a name that still holds a '$' after
that is reported as unresolved rather than guessed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

# Include files found next to the Makefile (or under the feed root) are read; the build system's own
# ($(INCLUDE_DIR)/package.mk and the like) define no packages of the feed and are skipped.
Reader = Callable[[str], "str | None"]

_ASSIGN = re.compile(
    r"^(override\s+|export\s+)?([A-Za-z0-9_./+-][^:=?+!\s]*)\s*(:::=|::=|:=|\?=|\+=|!=|=)(.*)$", re.S)
_DEFINE = re.compile(r"^(?:override\s+|export\s+)?define\s+(.+?)(?:\s+(?:=|:=|::=))?\s*$")
_COND = re.compile(r"^(ifeq|ifneq|ifdef|ifndef)\b\s*(.*)$")
_INCLUDE = re.compile(r"^-?(?:include|sinclude)\s+(.*)$")
_COMMENT = re.compile(r"(?<!\\)#.*$", re.S)
_FUNCTIONS = {
    "call", "eval", "foreach", "subst", "patsubst", "strip", "findstring", "filter", "filter-out", "sort",
    "word", "words", "wordlist", "firstword", "lastword", "dir", "notdir", "suffix", "basename",
    "addsuffix", "addprefix", "join", "wildcard", "realpath", "abspath", "if", "or", "and", "value",
    "origin", "flavor", "shell", "error", "warning", "info", "file", "let", "intcmp", "guile",
}


class Package:
    """One binary package as its Makefile declares it."""

    def __init__(self, name: str, makefile: str, kind: str) -> None:
        self.name = name
        self.makefile = makefile
        self.kind = kind  # BuildPackage, KernelPackage, Py3BasePackage or define
        self.depends = ""
        self.provides = ""


class Make:
    """One make evaluation: a Makefile with the includes it can reach."""

    def __init__(self, path: str, read: Reader, preset: dict[str, str] | None = None) -> None:
        self.path = path
        self.read = read
        self.vars: dict[str, str] = {"TOPDIR": "", "INCLUDE_DIR": "", "CURDIR": path.rsplit("/", 1)[0]}
        self.vars.update(preset or {})
        self.calls: list[tuple[str, list[str]]] = []  # (macro, args) of every call, in order
        self.unresolved: list[str] = []
        self.depth = 0

    # -- expansion -------------------------------------------------------------------------------

    def expand(self, text: str, args: list[str] | None = None) -> str:
        out = []
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            if c != "$":
                j = text.find("$", i)
                j = n if j < 0 else j
                out.append(text[i:j])
                i = j
                continue
            if i + 1 >= n:
                break
            d = text[i + 1]
            if d == "$":
                out.append("$")
                i += 2
            elif d in "({":
                end = _matching(text, i + 1)
                if end < 0:
                    out.append(text[i:])
                    break
                out.append(self._reference(text[i + 2 : end], args))
                i = end + 1
            else:
                out.append(self._variable(d, args))
                i += 2
        return "".join(out)

    def _variable(self, name: str, args: list[str] | None) -> str:
        if name.isdigit() and args is not None:
            k = int(name)
            return args[k] if k < len(args) else ""
        if name.isdigit():
            return ""
        value = self.vars.get(name)
        if value is None:
            return ""
        self.depth += 1
        try:
            return value if self.depth > 40 else self.expand(value, args)
        finally:
            self.depth -= 1

    def _reference(self, body: str, args: list[str] | None) -> str:
        head = re.match(r"([a-z-]+)[ \t]", body)
        if head and head.group(1) in _FUNCTIONS:
            return self._function(head.group(1), body[head.end():], args)
        name = self.expand(body, args)
        if ":" in name and "=" in name:  # substitution reference $(VAR:a=b)
            var, _, rule = name.partition(":")
            frm, _, to = rule.partition("=")
            words = self._variable(var, args).split()
            frm, to = (frm, to) if "%" in frm else ("%" + frm, "%" + to)
            return " ".join(_patsubst(frm, to, w) for w in words)
        return self._variable(name, args)

    def _function(self, fn: str, rest: str, args: list[str] | None) -> str:
        parts = _split_args(rest)
        if fn == "foreach":
            var = self.expand(parts[0], args).strip()
            words = self.expand(parts[1], args).split() if len(parts) > 1 else []
            body = ",".join(parts[2:])
            saved = self.vars.get(var)
            out = []
            for w in words:
                self.vars[var] = w.replace("$", "$$")
                out.append(self.expand(body, args))
            if saved is None:
                self.vars.pop(var, None)
            else:
                self.vars[var] = saved
            return " ".join(out)
        if fn == "if":
            cond = self.expand(parts[0], args).strip()
            if cond:
                return self.expand(parts[1], args) if len(parts) > 1 else ""
            return self.expand(",".join(parts[2:]), args) if len(parts) > 2 else ""
        values = [self.expand(p, args) for p in parts]
        if fn == "call":
            macro = values[0].strip()
            call_args = [macro] + values[1:]
            self.calls.append((macro, [a.strip() for a in values[1:]]))
            body = self.vars.get(macro)
            if body is None:
                return ""
            self.depth += 1
            try:
                return "" if self.depth > 40 else self.expand(body, call_args)
            finally:
                self.depth -= 1
        if fn == "eval":
            self.evaluate(",".join(values))
            return ""
        text = ",".join(values[1:])
        v0 = values[0] if values else ""
        simple: dict[str, Callable[[], str]] = {
            "subst": lambda: text.split(",", 1)[1].replace(v0, values[1]) if len(values) > 2 else "",
            "patsubst": lambda: " ".join(_patsubst(v0.strip(), values[1].strip(), w)
                                         for w in ",".join(values[2:]).split()),
            "strip": lambda: " ".join(",".join(values).split()),
            "findstring": lambda: v0 if v0 in text else "",
            "filter": lambda: " ".join(w for w in text.split() if any(_pmatch(p, w) for p in v0.split())),
            "filter-out": lambda: " ".join(w for w in text.split()
                                           if not any(_pmatch(p, w) for p in v0.split())),
            "sort": lambda: " ".join(sorted(set(",".join(values).split()))),
            "firstword": lambda: (",".join(values).split() or [""])[0],
            "lastword": lambda: (",".join(values).split() or [""])[-1],
            "words": lambda: str(len(",".join(values).split())),
            "word": lambda: _nth(text.split(), v0),
            "addsuffix": lambda: " ".join(w + v0 for w in text.split()),
            "addprefix": lambda: " ".join(v0 + w for w in text.split()),
            "notdir": lambda: " ".join(w.rsplit("/", 1)[-1] for w in ",".join(values).split()),
            "dir": lambda: " ".join((w.rsplit("/", 1)[0] + "/") if "/" in w else "./"
                                    for w in ",".join(values).split()),
            "basename": lambda: " ".join(re.sub(r"\.[^./]*$", "", w) for w in ",".join(values).split()),
            "suffix": lambda: " ".join(m.group(0) for w in ",".join(values).split()
                                       if (m := re.search(r"\.[^./]*$", w))),
            "or": lambda: next((v for v in values if v.strip()), ""),
            "and": lambda: values[-1] if all(v.strip() for v in values) else "",
            "value": lambda: self.vars.get(v0.strip(), ""),
            "origin": lambda: "file" if v0.strip() in self.vars else "undefined",
        }
        return simple[fn]() if fn in simple else ""

    # -- statements ------------------------------------------------------------------------------

    def evaluate(self, text: str) -> None:
        lines = _logical_lines(text)
        stack: list[tuple[bool, bool]] = []  # (this branch taken, some branch of the block taken)
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            stripped = _COMMENT.sub("", line).strip()
            active = all(s[0] for s in stack)
            cond = _COND.match(stripped)
            if cond:
                taken = active and self._condition(cond.group(1), cond.group(2))
                stack.append((taken, taken))
                continue
            if stripped.startswith("else"):
                if stack:
                    taken_before = stack[-1][1]
                    outer = all(s[0] for s in stack[:-1])
                    rest = stripped[4:].strip()
                    c2 = _COND.match(rest)
                    now = outer and not taken_before and (self._condition(c2.group(1), c2.group(2))
                                                          if c2 else True)
                    stack[-1] = (now, taken_before or now)
                continue
            if stripped == "endif":
                if stack:
                    stack.pop()
                continue
            define = _DEFINE.match(stripped)
            if define:
                body, i = _define_body(lines, i)
                if active:
                    name = self.expand(define.group(1))
                    self.vars[name] = body
                    if name.startswith("Package/") or name.startswith("KernelPackage/"):
                        self.defines.append(name)
                continue
            if not active or not stripped or stripped.startswith("#"):
                continue
            inc = _INCLUDE.match(stripped)
            if inc:
                for path in self.expand(inc.group(1)).split():
                    self._include(path)
                continue
            assign = _ASSIGN.match(stripped)
            if assign and not stripped.startswith("$("):
                self._assign(assign.group(2), assign.group(3), assign.group(4).strip())
                continue
            self.expand(stripped)  # a bare $(eval ...) or $(foreach ...) line

    defines: list[str]

    def _assign(self, name: str, op: str, value: str) -> None:
        name = self.expand(name).strip()
        if op in (":=", "::=", ":::="):
            self.vars[name] = self.expand(value).replace("$", "$$")
        elif op == "?=":
            self.vars.setdefault(name, value)
        elif op == "+=":
            old = self.vars.get(name)
            self.vars[name] = value if old is None else f"{old} {value}"
        elif op == "!=":
            self.vars[name] = ""
        else:
            self.vars[name] = value

    def _condition(self, kind: str, text: str) -> bool:
        if kind in ("ifdef", "ifndef"):
            defined = bool(self.vars.get(self.expand(text).strip(), ""))
            return defined if kind == "ifdef" else not defined
        text = text.strip()
        if text.startswith("("):
            end = _matching(text, 0)
            a, b = (_split_args(text[1:end]) + [""])[:2]
        else:
            quoted = re.findall(r"\"([^\"]*)\"|'([^']*)'", text)
            a, b = ([x or y for x, y in quoted] + ["", ""])[:2]
        equal = self.expand(a).strip() == self.expand(b).strip()
        return equal if kind == "ifeq" else not equal

    def _include(self, path: str) -> None:
        if not path or path.startswith("/"):
            return
        base = self.path.rsplit("/", 1)[0]
        full = _normalise(f"{base}/{path}")
        for candidate in self.read_glob(full):
            text = self.read(candidate)
            if text is not None:
                self.evaluate(text)

    def read_glob(self, path: str) -> list[str]:
        if "*" not in path and "?" not in path:
            return [path]
        listing = getattr(self.read, "listing", [])
        return sorted(p for p in listing if fnmatch.fnmatchcase(p, path))

    # -- the packages ----------------------------------------------------------------------------

    def run(self) -> dict[str, Package]:
        self.defines = []
        text = self.read(self.path) or ""
        self.evaluate(text)
        found: dict[str, Package] = {}
        for macro, args in self.calls:
            if not args:
                continue
            if macro in ("BuildPackage", "KernelPackage", "Py3BasePackage"):
                raw = args[0]
                name = ("kmod-" + raw) if macro == "KernelPackage" else raw
                self._record(found, name, macro)
        return found

    def _record(self, found: dict[str, Package], name: str, kind: str) -> None:
        if not name or "$" in name or " " in name or name.startswith("kmod-") and len(name) == 5:
            self.unresolved.append(f"{kind}({name})")
            return
        if name in found:
            return
        pkg = Package(name, self.path, kind)
        define = ("KernelPackage/" + name[5:]) if kind == "KernelPackage" else ("Package/" + name)
        pkg.depends = self._field(define, "DEPENDS", set())
        pkg.provides = self._field(define, "PROVIDES", set())
        found[name] = pkg

    def _field(self, define: str, field: str, seen: set[str]) -> str:
        """A field (DEPENDS, PROVIDES) as a define block sets it, after the blocks it calls (as make
        reads it)."""
        if define in seen or define not in self.vars:
            return ""
        seen.add(define)
        depends = ""
        for line in _logical_lines(self.vars[define]):
            s = line.strip()
            inherited = re.match(r"^\$\((?:call\s+)?([^,()\s]+)\)$", s)
            if inherited:
                depends = self._field(self.expand(inherited.group(1)).strip(), field, seen) or depends
                continue
            m = re.match(rf"^{field}\s*(:=|\+=|=)(.*)$", s)
            if m:
                value = self.expand(m.group(2)).strip()
                depends = f"{depends} {value}".strip() if m.group(1) == "+=" else value
        return " ".join(depends.split())


def _nth(words: list[str], n: str) -> str:
    try:
        k = int(n.strip())
    except ValueError:
        return ""
    return words[k - 1] if 0 < k <= len(words) else ""


def _pmatch(pattern: str, word: str) -> bool:
    if "%" not in pattern:
        return pattern == word
    pre, _, post = pattern.partition("%")
    return word.startswith(pre) and word.endswith(post) and len(word) >= len(pre) + len(post)


def _patsubst(frm: str, to: str, word: str) -> str:
    if "%" not in frm:
        return to if word == frm else word
    pre, _, post = frm.partition("%")
    if word.startswith(pre) and word.endswith(post) and len(word) >= len(pre) + len(post):
        stem = word[len(pre) : len(word) - len(post)]
        return to.replace("%", stem, 1)
    return word


def _matching(text: str, open_at: int) -> int:
    """Index of the bracket closing the one at open_at, or -1."""
    opening = text[open_at]
    closing = ")" if opening == "(" else "}"
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == opening:
            depth += 1
        elif text[k] == closing:
            depth -= 1
            if depth == 0:
                return k
    return -1


def _split_args(text: str) -> list[str]:
    """Split at the commas outside brackets, as make splits a function's arguments."""
    parts, depth, start = [], 0, 0
    for k, c in enumerate(text):
        if c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return parts


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash-newline continuations joined, as make reads them."""
    out: list[str] = []
    buf = ""
    for raw in text.split("\n"):
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            buf += raw[:-1] + " "
            continue
        out.append(buf + raw)
        buf = ""
    if buf:
        out.append(buf)
    return out


def _define_body(lines: list[str], i: int) -> tuple[str, int]:
    depth = 1
    body = []
    while i < len(lines):
        s = lines[i].strip()
        if _DEFINE.match(s):
            depth += 1
        elif s == "endef" or s.startswith("endef "):
            depth -= 1
            if depth == 0:
                return "\n".join(body), i + 1
        body.append(lines[i])
        i += 1
    return "\n".join(body), i


def _normalise(path: str) -> str:
    parts: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == ".." and parts:
            parts.pop()
        else:
            parts.append(p)
    return "/".join(parts)


def packages(path: str, read: Reader,
             preset: dict[str, str] | None = None) -> tuple[dict[str, Package], list[str]]:
    """The packages one Makefile defines, and the names it makes that could not be resolved."""
    make = Make(path, read, preset)
    found = make.run()
    return found, sorted(set(make.unresolved))
