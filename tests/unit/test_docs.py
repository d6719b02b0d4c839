"""The docs stay true to the tree and the parser: docs/layout.md names every package and module under
hotspot/ and lab/ (and none that is gone), each with one line; docs/command-line.md lists exactly the
commands hotspotctl's parser has, with exactly their options; every `hotspotctl ...` the README and the
docs show parses; every relative link and anchor they hold leads somewhere.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from hotspot.cli import parser

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "hotspot").is_dir() and (p / "docs").is_dir())
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("hotspot", "lab")  # the trees docs/layout.md must name whole
Parser = argparse.ArgumentParser


def prose(text: str) -> str:
    """The text without its fenced code blocks (their `# comments` are no headings, their links no links)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


# -- docs/layout.md ------------------------------------------------------------------------------------


def tree() -> set[str]:
    """Every package ('dir/') and module ('dir/name.py') under the packages, as paths from the root."""
    found = {f"{top}/" for top in PACKAGES}
    for top in PACKAGES:
        for p in (ROOT / top).rglob("*"):
            rel = p.relative_to(ROOT).as_posix()
            if "__pycache__" in p.parts:
                continue
            if p.is_dir() and (p / "__init__.py").is_file():
                found.add(rel + "/")
            elif p.suffix == ".py" and p.name != "__init__.py":
                found.add(rel)
    return found


def layout(text: str) -> tuple[dict[str, str], list[str]]:
    """docs/layout.md's entries, path -> description, and what is wrong with its form.

    An entry is a line `- `NAME`: one line`, NAME relative to the section's heading when that heading is
    a directory in code (`hotspot/core/`), to the root under "The repository"; bullets elsewhere are prose.
    """
    entries, problems, base = {}, [], None
    lines = prose(text).splitlines()
    for n, line in enumerate(lines, 1):
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            title = heading.group(1).strip()
            directory = re.fullmatch(r"`([^`]+/)`", title)
            base = directory.group(1) if directory else "" if title == "The repository" else None
            continue
        if base is None or not line.startswith("- "):
            continue
        entry = re.fullmatch(r"- `([^`]+)`: (\S.*)", line)
        if not entry:
            problems.append(f"docs/layout.md:{n}: not '- `NAME`: what it is': {line}")
            continue
        path = base + entry.group(1)
        if path in entries:
            problems.append(f"docs/layout.md:{n}: {path} is named twice")
        if n < len(lines) and re.match(r"\s+\S", lines[n]):
            problems.append(f"docs/layout.md:{n}: {path}'s description takes more than one line")
        entries[path] = entry.group(2)
    return entries, problems


def test_layout_names_every_package_and_module_and_nothing_else():
    entries, problems = layout((ROOT / "docs" / "layout.md").read_text())
    assert not problems, "\n".join(problems)
    ours = {p for p in entries if p.split("/")[0] in PACKAGES}
    modules = {p for p in ours if p.endswith(("/", ".py"))}
    have = tree()
    missing, gone = sorted(have - modules), sorted(modules - have)
    assert not missing, "docs/layout.md does not name: " + ", ".join(missing)
    assert not gone, "docs/layout.md names what is not in the tree: " + ", ".join(gone)
    absent = sorted(p for p in entries if not (ROOT / p).exists())
    assert not absent, "docs/layout.md names files that do not exist: " + ", ".join(absent)


# -- hotspotctl ------------------------------------------------------------------------------------------


def subcommands(p: Parser) -> dict[str, Parser] | None:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return None


def leaves(p: Parser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Parser]:
    """Every command a user can end on, by its words (`plan set`), with its parser."""
    subs = subcommands(p)
    if subs is None:
        return {path: p}
    return {leaf: q for name, sub in subs.items() for leaf, q in leaves(sub, path + (name,)).items()}


def options(p: Parser, *, everything: bool = False) -> dict[str, argparse.Action]:
    """A command's own options (not --help, nor the global --json it also takes after its name, unless
    `everything`)."""
    def own(a: argparse.Action) -> bool:
        shared = a.dest == "json" and a.default is argparse.SUPPRESS
        return not isinstance(a, argparse._HelpAction) and (everything or not shared)

    return {s: a for a in p._actions for s in a.option_strings if own(a)}


def positionals(p: Parser) -> list[argparse.Action]:
    return [a for a in p._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def placeholder(word: str) -> bool:
    """MAC, SIZE|none, ADDR|NAME: a value the reader fills in, not a literal."""
    return word.split("|")[0].isupper()


class Synopsis:
    """One command as the docs write it, `history MAC|plan [--by hour|day|month] [--from DATE]`, read
    against the parser: the command's words, the options it names, its positionals, what is wrong."""

    def __init__(self, text: str, *, commands_only: bool = False):
        self.problems: list[str] = []
        self.options: set[str] = set()
        self.positionals: list[str] = []
        self.parser = p = parser()
        self.path: tuple[str, ...] = ()
        items = re.findall(r"\[[^\]]*\]|[^\s\[\]]+", text)
        i = 0
        if not commands_only:  # `hotspotctl [-c FILE] [--json] COMMAND`: hotspotctl's own options first
            while i < len(items) and items[i].strip("[]").startswith("-"):
                i = self._option(p, items, i)
        while (subs := subcommands(self.parser)) is not None and i < len(items):
            word = items[i].strip("[]")
            if word in subs:
                self.parser, self.path, i = subs[word], self.path + (word,), i + 1
            elif placeholder(word) and not self.path:  # `hotspotctl COMMAND`: any command
                return
            else:
                where = " ".join(("hotspotctl",) + self.path)
                self.problems.append(f"{text!r}: {word!r} is no command of {where}")
                return
        if not self.path:
            self.problems.append(f"{text!r}: no command")
        while i < len(items):
            if items[i].strip("[]").startswith("-"):
                i = self._option(self.parser, items, i)
            else:
                self.positionals += items[i].strip("[]").split()
                i += 1

    def _option(self, p: Parser, items: list[str], i: int) -> int:
        """Read the option at items[i] (`[--by hour|day|month]` or `--trace FILE`); the next index."""
        bracketed = items[i].startswith("[")
        words = items[i].strip("[]").split()
        name, value = words[0], words[1] if len(words) > 1 else None
        action = options(p, everything=True).get(name)
        where = " ".join(("hotspotctl",) + self.path)
        if action is None:
            self.problems.append(f"{where} has no option {name}")
            return i + 1
        self.options.add(name)
        takes = action.nargs != 0
        if not bracketed and takes and value is None and i + 1 < len(items):
            value, i = items[i + 1], i + 1
        if takes != (value is not None):
            self.problems.append(f"{where} {name} {'takes' if takes else 'takes no'} value")
        elif value is not None and action.choices:
            self.problems += self.choices(f"{where} {name}", value, action.choices)
        return i + 1

    @staticmethod
    def choices(what: str, value: str, choices) -> list[str]:
        """`value` as the docs show it (`hour|day|month`, or `day` in an example) against the parser's."""
        words = value.split("|")
        if placeholder(value):
            return []
        if len(words) == 1:  # a value given, as in an example
            return [] if value in choices else [f"{what}: {value!r} is not one of {sorted(choices)}"]
        if set(words) != set(choices):
            return [f"{what} takes {'|'.join(choices)}, not {value}"]
        return []

    def exactly(self) -> list[str]:
        """What differs from the parser beyond the command's words: every option, every positional."""
        where = " ".join(("hotspotctl",) + self.path)
        problems = list(self.problems)
        for action in {id(a): a for a in options(self.parser).values()}.values():
            if not self.options & set(action.option_strings):
                problems.append(f"{where}: the list does not name {'/'.join(action.option_strings)}")
        wanted = positionals(self.parser)
        if len(self.positionals) != len(wanted):
            problems.append(f"{where}: the list shows {len(self.positionals)} positional arguments "
                            f"({' '.join(self.positionals)}), the parser takes {len(wanted)}")
        for shown, action in zip(self.positionals, wanted):
            if action.choices:
                problems += self.choices(f"{where} {action.dest}", shown, action.choices)
        return problems


def command_list(text: str) -> list[str]:
    """The synopses of the first code block under '## Commands'. A line at the left margin begins one
    (it runs to two spaces or the line's end); the descriptions start in one column, and an indented
    line that starts left of it carries the synopsis on, one that starts there is a description."""
    section = text.split("\n## Commands\n", 1)[1]
    lines = re.search(r"^```\n(.*?)^```", section, flags=re.S | re.M).group(1).splitlines()
    column = min(m.end() for line in lines if (m := re.match(r"\S.*?\s{2,}(?=\S)", line)))
    synopses: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if line and not indent:
            synopses.append(re.split(r"\s{2,}", line, maxsplit=1)[0])
        elif synopses and line.strip() and indent < column:
            synopses[-1] += " " + line.strip()
    return synopses


def test_the_command_line_page_lists_exactly_the_parsers_commands_and_options():
    page = (ROOT / "docs" / "command-line.md").read_text()
    listed = [Synopsis(s, commands_only=True) for s in command_list(page)]
    problems = [p for s in listed for p in s.exactly()]
    assert not problems, "\n".join(problems)
    paths = [s.path for s in listed]
    twice = sorted({" ".join(p) for p in paths if paths.count(p) > 1})
    assert not twice, "listed twice: " + ", ".join(twice)
    want = set(leaves(parser()))
    missing = sorted(" ".join(p) for p in want - set(paths))
    extra = sorted(" ".join(p) for p in set(paths) - want)
    assert not missing, "docs/command-line.md does not list: " + ", ".join(missing)
    assert not extra, "docs/command-line.md lists what hotspotctl has not: " + ", ".join(extra)


def mentions(text: str) -> list[str]:
    """Every `hotspotctl ...` shown: in inline code, and as a line of a code block (its comment cut)."""
    found = re.findall(r"`hotspotctl ([^`]+)`", prose(text))
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        found += [m.split(" #")[0] for m in re.findall(r"^\s*(?:\$ )?hotspotctl (.+)$", block, flags=re.M)]
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_hotspotctl_the_docs_show_parses(doc):
    problems = [f"{doc.name}: {p}" for m in mentions(doc.read_text()) for p in Synopsis(m).problems]
    assert not problems, "\n".join(problems)


# -- links ---------------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation gone (letters of any script stay),
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", prose(path.read_text()), flags=re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
    return {base if n == 0 else f"{base}-{n}" for base, count in seen.items() for n in range(count)}


def links(text: str) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", prose(text))
    return re.findall(r"\]\(([^)\s]+)[^)]*\)", text) + re.findall(r"(?:src|href)=\"([^\"]+)\"", text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_somewhere(doc):
    problems = []
    for link in links(doc.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        if not path.exists():
            problems.append(f"{link}: no such file")
        elif anchor and path.suffix != ".md":
            problems.append(f"{link}: an anchor in a file that is not markdown")
        elif anchor and anchor not in anchors(path):
            problems.append(f"{link}: {path.name} has no heading #{anchor}")
        elif ROOT not in path.parents and path != ROOT:
            problems.append(f"{link}: outside the repository")
    assert not problems, f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_readme_links_every_page_of_the_docs():
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in links((ROOT / "README.md").read_text())}
    unlinked = sorted(p.name for p in DOCS[1:] if p.resolve() not in linked)
    assert not unlinked, "README.md does not link: " + ", ".join(unlinked)
