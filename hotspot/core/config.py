"""Options, each declared once beside the capability that uses it, and the frozen Config made of them.

A capability's options.py declares its options: name, parser, default, a one-line doc and the longer
comment the shipped UCI file shows, and for the few the owner may change from the admin UI, how the form
offers them. hotspot/config.py gathers every capability's; this module knows no option. A file is read
(hotspot/core/uci.py) and checked as a whole, every mistake reported at once as FILE:LINE: reason, in
file order. Only one section is ours (`config hotspot`); sections of other types are ignored because UCI
files may be shared and extended.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotspot.core import uci
from hotspot.core.units import (
    InvalidValue,
    format_duration,
    parse_duration,
    parse_mac,
    parse_rate,
    parse_size,
    quote,
)

# The house's settings (hotspot.config.Config, a class made from every capability's options): what a
# capability's code is given as `cfg`. Named here so that a capability need not import the house.
Config = Any

class ConfigError(Exception):
    """A config file that cannot be used. `errors` holds every problem found, in file order, each one line
    'FILE:LINE: reason' (or 'FILE: reason'); str() is those lines joined by newlines."""

    def __init__(self, errors: str | list[str]):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


class Bad(ValueError):
    """What a parser raises for a value it refuses; str() is the reason, one line."""


def N_(text: str) -> str:
    """Marks a text the admin UI shows in the owner's language (pybabel's keyword); returns it as it is."""
    return text


Parse = Callable[[str], Any]


@dataclass(frozen=True)
class ByOption:
    """A parser chosen by another option's value: period_start's range depends on period. The value in
    force of `option` (its default when the file's is refused) picks one of `parsers`, or `otherwise`."""

    option: str
    parsers: Mapping[str, Parse]
    otherwise: Parse

    def pick(self, value: object) -> Parse:
        return self.parsers.get(value, self.otherwise)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Field:
    """How the admin UI offers an option the owner may set. Texts are English; the portal translates
    them (mark them with N_ so `make translations` finds them)."""

    label: str
    form: str = ""  # the admin form it is on; '' for none (`hotspotctl plan set` and the socket only)
    hint: str = ""  # the help under it
    placeholder: str = ""
    choices: tuple[tuple[str, ...], ...] = ()  # (value, label) or (value, label, description) each
    radio: bool = False  # its choices as radio buttons with their descriptions, not a drop-down list
    maxlength: int = 40
    numeric: bool = False  # a phone offers its number pad
    alone: str = ""  # its name where it stands alone, as in an error that names it; default: label

    @property
    def name_alone(self) -> str:
        return self.alone or self.label


@dataclass(frozen=True)
class Option:
    """One option of the config file."""

    name: str
    parse: Parse | ByOption  # the file's text -> the typed value; a list option's: one item's
    default: Any
    doc: str  # one line: what it is for
    comment: str = ""  # the longer text above it in the UCI file ('' : the doc); a newline starts a line
    list: bool = False  # several values: 'list' lines, or one 'option' with values separated by spaces
    heading: str = ""  # the heading it is under in the UCI file
    joined: bool = False  # in the UCI file right under the option before it, whose comment covers it
    spell: Callable[[Any], str] | None = None  # a value (a list's item) as the file spells it
    example: str = ""  # a list empty by default: the item the UCI file shows, commented out
    admin: Field | None = None  # the owner may set it (the admin UI, `hotspotctl plan set`)

    def __post_init__(self) -> None:
        if not uci.NAME.fullmatch(self.name):
            raise ValueError(f"option {self.name!r}: not a UCI option name")
        if not self.doc or "\n" in self.doc:
            raise ValueError(f"option {self.name}: needs a one-line doc")
        if self.list and not self.default and not self.example:
            raise ValueError(f"option {self.name}: a list empty by default needs an example for the UCI file")

    def text(self, value: Any) -> str:
        """`value` as the file spells it (a list's items separated by spaces); 'none' for an empty
        value that is not the default (see `none_differs`)."""
        spell = self.spell or plain
        text = " ".join(spell(v) for v in value) if self.list else spell(value)
        return "none" if text == "" and self.none_differs else text

    @property
    def none_differs(self) -> bool:
        """Whether its empty value (no item, no command, no file) is not its default. uci reads
        `option NAME ''` as no option at all, so the default applies: such an option says 'none'."""
        if self.list:
            return bool(self.default)
        parse = self.parse.otherwise if isinstance(self.parse, ByOption) else self.parse
        try:
            return parse("") != self.default
        except Bad:
            return False

    def uci_lines(self) -> list[str]:
        """Its lines in the UCI sample: its default, or for an empty list its example commented out."""
        if not self.list:
            return [f"\toption {self.name} {uci.quote_value(self.text(self.default))}"]
        items = [(self.spell or plain)(v) for v in self.default]
        if not items:
            return [f"\t# list {self.name} {uci.quote_value(self.example)}"]
        return [f"\tlist {self.name} {uci.quote_value(v)}" for v in items]


class Given:
    """What a check across options sees: each option's value in force (the file's, else its default),
    whether the file sets it, and whether a value of it was refused (such an option takes no part in
    checks across options: its own error says what to fix)."""

    def __init__(self, defaults: Mapping[str, Any], values: Mapping[str, Any], lines: Mapping[str, int],
                 refused: set[str]):
        self._defaults, self._values, self._lines, self._refused = defaults, values, lines, refused

    def __getitem__(self, key: str) -> Any:
        return self._values.get(key, self._defaults[key])

    def in_file(self, key: str) -> bool:
        return key in self._lines

    def refused(self, *keys: str) -> bool:
        return any(k in self._refused for k in keys)


# A check across options: yields (the option to name, reason) for each problem; reported at that option's
# line in the file.
Check = Callable[[Given], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Schema:
    """The declarations a Config class is made of."""

    section: str  # the UCI section type that is ours
    options: Mapping[str, Option]  # in declaration order
    checks: tuple[Check, ...]

    @property
    def settable(self) -> tuple[str, ...]:
        return tuple(name for name, o in self.options.items() if o.admin is not None)

    def judge(self, keyword: str, key: str) -> str | None:
        """Why a statement of our section is refused for its name, or None."""
        option = self.options.get(key)
        if option is None:
            close = difflib.get_close_matches(key, sorted(self.options), n=1)
            return f"unknown option {quote(key)}" + (f"; did you mean '{close[0]}'?" if close else "")
        if keyword == "list" and not option.list:
            return f"option {key} takes one value: use 'option', not 'list'"
        return None


def make_config(options: Iterable[Option], *, section: str, default_path: str, checks: Iterable[Check] = (),
                methods: Mapping[str, Callable] | None = None, name: str = "Config",
                module: str | None = None) -> type:
    """A frozen dataclass with one attribute per option (its default, its equality), `path` (the file
    it came from, not compared), `replace(**changes)`, `schema` (the declarations) and `methods`.
    A list option's value is a tuple, whatever it is given as, so a Config stays hashable."""
    declared: dict[str, Option] = {}
    for o in options:
        if o.name in declared or o.name == "path":
            raise ValueError(f"option {o.name} is declared twice")
        declared[o.name] = o
    for o in declared.values():
        if isinstance(o.parse, ByOption) and o.parse.option not in declared:
            raise ValueError(f"option {o.name} depends on {o.parse.option}, which is not declared")
    schema = Schema(section, declared, tuple(checks))
    lists = tuple(o.name for o in declared.values() if o.list)

    def __post_init__(self) -> None:
        for key in lists:
            object.__setattr__(self, key, tuple(getattr(self, key)))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    fields = [(o.name, Any, field(default=o.default)) for o in declared.values()]
    fields.append(("path", str, field(default=default_path, compare=False)))
    namespace = {"__doc__": "The settings, typed and checked: one attribute per declared option.",
                 "__module__": module or __name__, "__post_init__": __post_init__, "replace": replace,
                 "schema": schema, **(methods or {})}
    return dataclasses.make_dataclass(name, fields, frozen=True, namespace=namespace)


# --- reading a file --------------------------------------------------------------------------------------


def load(path: str | os.PathLike, config: type) -> Any:
    """Read and check the file into a `config` (a class from make_config); a file without our section
    gives all defaults. Raises ConfigError listing every problem in the file, not just the first."""
    path = os.fspath(path)
    errors: uci.Errors = []
    return from_text(uci.read_text(path, errors, ConfigError), config, path, errors)


def from_text(text: str, config: type, path: str, errors: uci.Errors | None = None) -> Any:
    """As load(), for UCI text already read; `path` names it in the errors ("PATH:LINE: ...")."""
    schema: Schema = config.schema
    errors = [] if errors is None else errors
    settings = uci.section_settings(text, schema.section, schema.judge, errors)
    values: dict[str, Any] = {}
    refused: set[str] = set()
    lines: dict[str, int] = {}  # each option's last line in the file

    def error(key: str, lineno: int | None, reason: object) -> None:
        errors.append((lineno or 0, f"option {key}: {reason}"))
        refused.add(key)

    def parse(key: str, convert: Parse, value: str, lineno: int) -> None:
        try:
            values[key] = convert(value)  # a repeated option replaces the earlier one, as in UCI...
        except Bad as e:
            error(key, lineno, e)  # ...but an earlier bad value is still reported

    lists: dict[str, list] = {}  # each list option's values in force
    for keyword, key, value, lineno in settings:
        option = schema.options[key]
        if keyword == "option" and value == "":  # uci sets nothing: the value before (or the default) stays
            if option.none_differs:
                error(key, lineno, f"'' sets nothing in UCI, so {_default_text(option)} would apply; "
                                   "write 'none' for none")
            continue
        lines[key] = lineno
        if option.list:
            items = lists.setdefault(key, [])
            if keyword == "option":
                items.clear()  # an option replaces, a list entry appends
            # an option's value is a list of words (as OpenWrt's scripts read it); a list entry is one item
            words = value.split() if keyword == "option" else [value]
            if words == ["none"] and option.none_differs:
                words = []
            for word in words:
                try:
                    items.append(option.parse(word))
                except Bad as e:
                    error(key, lineno, e)
        elif not isinstance(option.parse, ByOption):
            parse(key, option.parse, value, lineno)
    for key, items in lists.items():
        if key not in refused:
            values[key] = tuple(dict.fromkeys(items))  # drop repeats, keep order
    defaults = {name: o.default for name, o in schema.options.items()}
    given = Given(defaults, values, lines, refused)
    for _, key, value, lineno in settings:  # then the options whose parser another option's value picks
        parser = schema.options[key].parse
        if isinstance(parser, ByOption) and value != "":
            parse(key, parser.pick(given[parser.option]), value, lineno)
    for check in schema.checks:
        for key, reason in list(check(given)):
            error(key, lines.get(key), reason)
    if errors:
        errors.sort(key=lambda e: e[0])  # stable: one line's errors keep the order they were found in
        raise ConfigError([f"{path}:{lineno}: {reason}" if lineno else f"{path}: {reason}"
                           for lineno, reason in errors])
    return config(path=path, **values)


# --- writing ---------------------------------------------------------------------------------------------


def dump(config: Any) -> str:
    """UCI text for `config` that load() reads back to an equal Config (for tests, the lab and the UI)."""
    schema: Schema = type(config).schema
    out = [f"config {schema.section} 'main'"]
    for o in schema.options.values():
        value = getattr(config, o.name)
        if o.list and value:
            out += [f"\tlist {o.name} {uci.quote_value((o.spell or plain)(v))}" for v in value]
        elif o.list:
            out.append(f"\toption {o.name} 'none'" if o.none_differs else f"\t# no {o.name}")
        else:
            out.append(f"\toption {o.name} {uci.quote_value(o.text(value))}")
    return "\n".join(out) + "\n"


def check_setting(config: type, key: str, value: str, context: Mapping[str, str] | None = None) -> Any:
    """One settable option's text checked as load() checks it; its typed value, or ValueError with the
    reason in one line. `context` holds the texts of the other options of the same form (the period a
    start day is checked against); an option missing there counts with its default."""
    option = config.schema.options.get(key)
    if option is None or option.admin is None:
        raise ValueError(f"not a setting: {key}")
    parser = option.parse
    if isinstance(parser, ByOption):
        on = config.schema.options[parser.option]
        try:
            current = on.parse(context[on.name]) if context and on.name in context else on.default
        except Bad:
            current = on.default
        parser = parser.pick(current)
    try:
        return parser(value)
    except Bad as e:
        raise ValueError(str(e)) from None


def settings_text(config: Any) -> dict[str, str]:
    """The settable options as the config file spells them (for the admin UI's forms)."""
    options = type(config).schema.options
    return {key: options[key].text(getattr(config, key)) for key in type(config).schema.settable}


def write_settings(path: str, values: dict[str, str], config: type) -> Any:
    """Set settable options in the file, keeping every other line and comment as it is; the new file is
    checked as a whole before it replaces the old one. Returns the new Config; raises ConfigError (nothing
    written) with every problem, each naming its option."""
    schema: Schema = config.schema
    unknown = sorted(set(values) - set(schema.settable))
    if unknown:
        raise ConfigError(f"{path}: not a setting: {', '.join(unknown)}")
    for key, value in values.items():
        if not isinstance(value, str) or len(value) > 64 or not value.isprintable():
            raise ConfigError(f"{path}: option {key}: at most 64 printable characters")

    # an empty field means none: spelt 'none' where '' would bring the default back (see Option.text)
    values = {k: "none" if v == "" and schema.options[k].none_differs else v for k, v in values.items()}

    def check(tmp: str) -> Any:
        try:
            return load(tmp, config)
        except ConfigError as e:
            raise ConfigError([line.replace(tmp, path, 1) for line in e.errors]) from None

    writer = uci.UciWriter.for_file(path)
    if writer is None:
        return uci.write_options(path, values, schema.section, check).replace(path=path)
    try:
        return writer.write(path, values, schema.section, check).replace(path=path)
    except OSError as e:
        raise ConfigError(f"{path}: {e}") from None


def uci_sample(config: type, header: str) -> str:
    """The UCI file that documents every option: its comment (or doc) and default, then its line with
    the default, grouped under the options' headings in declaration order. Shipped as the router's
    /etc/config/hotspot (openwrt/files/hotspot.config, made by `make uci-sample`)."""
    schema: Schema = config.schema
    groups: list[list[Option]] = []
    for o in schema.options.values():
        if o.joined and groups:
            groups[-1].append(o)
        else:
            groups.append([o])
    out = [header.rstrip("\n"), "", f"config {schema.section} 'main'"]
    heading = ""
    for group in groups:
        first = group[0]
        if first.heading and first.heading != heading:
            heading = first.heading
            out += ["", f"\t# ---- {heading} ----"]
        out.append("")
        text = (first.comment or first.doc).strip() + " " + _defaults_sentence(group)
        for paragraph in text.split("\n"):
            lines = textwrap.wrap(paragraph.strip(), 93, break_long_words=False, break_on_hyphens=False)
            out += ["\t# " + line.replace(_UNBROKEN, " ") for line in lines]
        for o in group:
            out += o.uci_lines()
    return "\n".join(out) + "\n"


_UNBROKEN = "\0"  # a space in a default, which the comment's lines are not broken at


def _default_text(o: Option) -> str:
    if o.default in ((), None):
        return "its default"
    return f"its default {uci.quote_value(o.text(o.default))}"


def _defaults_sentence(group: list[Option]) -> str:
    """'Default: '2'.' or 'Defaults: '', '1mbit' and ''.': what the group's lines hold unchanged."""
    shown = ["none" if o.list and not o.default else uci.quote_value(o.text(o.default)) for o in group]
    shown = [text.replace(" ", _UNBROKEN) for text in shown]
    if len(shown) == 1:
        return f"Default: {shown[0]}."
    return f"Defaults: {', '.join(shown[:-1])} and {shown[-1]}."


# --- the values' parsers: each takes the option's text and returns its typed value or raises Bad ----------

_IFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}", re.ASCII)


def interface(v: str) -> str:
    if not _IFACE.fullmatch(v):
        raise Bad(f"{quote(v)} is not an interface name (letters, digits, '.', '_' or '-'; at most 15)")
    return v


def absolute_path(v: str) -> str:
    if not v.startswith("/") or not v.isprintable():
        raise Bad(f"{quote(v)} is not an absolute path")
    return v


def optional_path(v: str) -> str | None:
    """An absolute path, or 'none' (or '') for none."""
    return None if v in ("", "none") else absolute_path(v)


def ranged(lo: float, hi: float, desc: str, integer: bool = True) -> Parse:
    """A whole (or decimal) number from lo to hi, in plain digits; `desc` completes "'x' is not ..."."""
    pattern = re.compile(r"\d+" if integer else r"\d+(?:\.\d+)?", re.ASCII)

    def parse(v: str) -> float:
        n = (int(v) if integer else float(v)) if pattern.fullmatch(v) else None
        if n is None or not lo <= n <= hi:
            raise Bad(f"{quote(v)} is not {desc}")
        return n

    return parse


def choice(*choices: str) -> Parse:
    def parse(v: str) -> str:
        if v not in choices:
            raise Bad(f"{quote(v)} is not one of {', '.join(choices)}")
        return v

    return parse


def period_start(period: str, otherwise: str) -> ByOption:
    """The day a period starts on, its range given by the value of the option `period` (daily, weekly or
    monthly; any other value counts as `otherwise`)."""
    days = {
        "monthly": ranged(1, 31, "a day of the month between 1 and 31"),
        "weekly": ranged(1, 7, "a day of the week between 1 (Monday) and 7 (Sunday)"),
        "daily": ranged(1, 31, "a number between 1 and 31 (daily periods start at 00:00 and ignore it)"),
    }
    return ByOption(period, days, days[otherwise])


def boolean(v: str) -> bool:
    if v in ("1", "yes", "on", "true", "enabled"):
        return True
    if v in ("0", "no", "off", "false", "disabled"):
        return False
    raise Bad(f"{quote(v)} is not a boolean (1 or 0)")


def size(v: str) -> int:
    """Bytes: '20MB', '1.5GiB'."""
    try:
        return parse_size(v)
    except InvalidValue as e:
        raise Bad(str(e)) from None


def size_or_none(v: str) -> int | None:
    """Bytes, or '' (or 'none') for none: a cap or a quota."""
    if v.strip().lower() in ("", "none"):
        return None
    try:
        return parse_size(v)
    except InvalidValue as e:
        raise Bad(f"{e} (or '' for no cap)") from None


def rate(v: str) -> int:
    """Bits per second: '256kbit'."""
    try:
        return parse_rate(v)
    except InvalidValue as e:
        raise Bad(str(e)) from None


def duration(v: str) -> int:
    """Seconds: '90', '30m', '1h30m' (1s..366d)."""
    try:
        return parse_duration(v)
    except InvalidValue as e:
        raise Bad(str(e)) from None


def duration_or_none(meaning: str) -> Parse:
    """A duration, or 'none' for `meaning` ('no idle timeout')."""

    def parse(v: str) -> int | None:
        if v.strip().lower() == "none":
            return None
        try:
            return parse_duration(v)
        except InvalidValue as e:
            raise Bad(f"{e} (or 'none' for {meaning})") from None

    return parse


def mac(v: str) -> str:
    try:
        return parse_mac(v)
    except InvalidValue as e:
        raise Bad(str(e)) from None


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*", re.ASCII)


def hostname(v: str) -> str | None:
    """A DNS name, in lower case, or '' for none."""
    if v == "":
        return None
    if not _HOSTNAME.fullmatch(v.lower()):
        raise Bad(f"{quote(v)} is not a DNS name (e.g. portal.example.com), or '' for none")
    return v.lower()


def token(v: str) -> str | None:
    """A bearer token, or '' for none."""
    if v == "":
        return None
    if not re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,256}", v, re.ASCII):
        raise Bad("a token of 16 to 256 letters, digits or . _ ~ + / = - (or '' for none)")
    return v


def short_text(v: str) -> str | None:
    """A name people read (at most 64 printable characters), or '' for none."""
    if len(v) > 64 or not v.isprintable():
        raise Bad("at most 64 printable characters")
    return v or None


def secret(v: str) -> str | None:
    """A password or a key (at most 256 printable characters), or '' for none."""
    if v == "":
        return None
    if len(v) > 256 or not v.isprintable():
        raise Bad("at most 256 printable characters")
    return v


# --- how values are spelled in the file --------------------------------------------------------------------


def plain(value: Any) -> str:
    """None as '', a boolean as 1 or 0, anything else as str() does."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _exact(n: int, units: dict[str, int]) -> str:
    """The shortest exact spelling: 2000000000 -> '2GB', 256000 -> '256kbit'."""
    for unit, amount in sorted(units.items(), key=lambda u: -u[1]):
        if n and n % amount == 0:
            return f"{n // amount}{unit}"
    return str(n)


def size_text(n: int | None) -> str:
    """Bytes as the shortest exact size: 2000000000 -> '2GB'; None -> ''."""
    if n is None:
        return ""
    return _exact(n, {"TB": 10**12, "GB": 10**9, "MB": 10**6, "kB": 10**3, "B": 1}).replace("kB", "KB")


def rate_text(n: int) -> str:
    """Bits per second as the shortest exact rate: 256000 -> '256kbit'."""
    return _exact(n, {"gbit": 10**9, "mbit": 10**6, "kbit": 10**3, "bit": 1})


def duration_text(seconds: int | None) -> str:
    """Seconds as the shortest exact duration: 5400 -> '1h30m'; None -> 'none'."""
    return "none" if seconds is None else format_duration(seconds)
