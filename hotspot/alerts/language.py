"""The owner's language (option owner_language): what alerts, SMS and reports are written in.

hotspotd writes to the owner outside any web request, so it cannot ask the portal's request which
language to use: `words(lang)` is the same compiled gettext catalogue the portal reads
(web/translations, stdlib `gettext` only: Babel is a build-time tool), with the date formats the portal
uses ('3 Dec, 14:00' / '12月3日 14:00'). Sizes and rates read the same in both languages ('1.5 GB').

A message builder takes a `Words` and marks its texts with `w._(...)`, so `make translations` finds
them. A new alert in both languages is two lines, its subject and text, through `notice()`:

    ROAMING = N_("roaming on %(operator)s"), N_("The modem is roaming on %(operator)s since %(time)s.")
    message = notice(cfg.owner_language, *ROAMING, data={"event": "roaming"}, operator=op, time=t)

and the two Chinese strings in web/translations/zh_CN/LC_MESSAGES/messages.po (docs/alerts.md).
"""

from __future__ import annotations

import gettext as _gettext
from datetime import datetime
from functools import cache

from hotspot.alerts.message import Message
from hotspot.core.parts import web_dir

LANGUAGES = ("en", "zh-Hans")  # owner_language's values: English and Simplified Chinese
PREFIX = "hotspot: "  # every notification's subject starts with the product's name, in both languages

_WEEKDAYS = {"en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
             "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]}
_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def short(lang: str | None) -> str:
    """'zh' for any Chinese tag ('zh-Hans', 'zh_CN', 'zh'), else 'en' (the source language)."""
    return "zh" if str(lang or "").lower().replace("_", "-").split("-")[0] == "zh" else "en"


@cache
def catalogue(lang: str, directory: str | None = None) -> _gettext.NullTranslations:
    """The portal's compiled catalogue, read with the stdlib as the portal reads it (English: none)."""
    if short(lang) == "en":
        return _gettext.NullTranslations()
    return _gettext.translation("messages", directory or str(web_dir() / "translations"),
                                languages=["zh_CN"], fallback=True)


class Words:
    """One language's translations and date formats (the portal's style: '3 Dec' / '12月3日')."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = short(lang)
        self.catalogue = catalogue(self.lang)

    @property
    def tag(self) -> str:
        """The language as owner_language names it: 'en' or 'zh-Hans'."""
        return LANGUAGES[self.lang == "zh"]

    def _(self, message: str, **variables) -> str:
        """`message` translated, its %(name)s filled from `variables`; a translation whose placeholders
        do not match (a slip in the .po) falls back to the English, so an alert still goes out."""
        text = self.catalogue.gettext(message)
        if not variables:
            return text
        try:
            return text % variables
        except (KeyError, ValueError, TypeError):
            return message % variables

    def ngettext(self, singular: str, plural: str, n: int, **variables) -> str:
        variables.setdefault("num", n)
        try:
            return self.catalogue.ngettext(singular, plural, n) % variables
        except (KeyError, ValueError, TypeError):
            return (singular if n == 1 else plural) % variables

    def list(self, items) -> str:
        """'a, b, c' / 'a、b、c'."""
        return ("、" if self.lang == "zh" else ", ").join(items)

    def sentence(self, *parts: str) -> str:
        """Sentences joined as each language does: with a space in English, none in Chinese."""
        return ("" if self.lang == "zh" else " ").join(p for p in parts if p)

    @staticmethod
    def local(ts: float) -> datetime:
        return datetime.fromtimestamp(ts)

    def day(self, ts: float) -> str:
        """'3 Dec' / '12月3日'."""
        t = self.local(ts)
        return f"{t.month}月{t.day}日" if self.lang == "zh" else f"{t.day} {_MONTHS_EN[t.month - 1]}"

    def weekday(self, ts: float) -> str:
        return _WEEKDAYS[self.lang][self.local(ts).weekday()]

    def weekday_day(self, ts: float) -> str:
        """'Mon 3 Dec' / '12月3日 周一'."""
        if self.lang == "zh":
            return f"{self.day(ts)} {self.weekday(ts)}"
        return f"{self.weekday(ts)} {self.day(ts)}"

    def when(self, ts: float | str | None) -> str:
        """'3 Dec, 14:00' / '12月3日 14:00' (a unix time, or an ISO 8601 text); '-' for none."""
        if ts is None or ts == "":
            return "-"
        if isinstance(ts, str):
            try:
                ts = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return ts
        return f"{self.day(ts)}{' ' if self.lang == 'zh' else ', '}{self.local(ts):%H:%M}"

    def until(self, end: float) -> str:
        """The last moment of [.., end): the last day when `end` is a midnight ('30 Nov' for 1 Dec
        00:00, which people read as including 1 Dec), else the end itself ('1 Dec, 06:00')."""
        t = self.local(end)
        if (t.hour, t.minute, t.second) == (0, 0, 0):
            return self.day(end - 1)
        return self.when(end)

    def span(self, start: float, end: float) -> str:
        """[start, end) as days: '24–30 Nov', '28 Nov – 4 Dec', '3 Dec' / '11月24日–30日'."""
        first, last = self.local(start), self.local(max(start, end - 1))
        if first.date() == last.date():
            return self.day(start)
        if self.lang == "zh":
            if first.month == last.month:
                return f"{first.month}月{first.day}日–{last.day}日"
            return f"{self.day(start)} – {self.day(end - 1)}"
        if first.month == last.month:
            return f"{first.day}–{last.day} {_MONTHS_EN[last.month - 1]}"
        return f"{self.day(start)} – {self.day(end - 1)}"


@cache
def words(lang: str | None) -> Words:
    """The Words of `lang` (owner_language's value, or 'en'/'zh'), made once."""
    return Words(short(lang))


def notice(lang: str | None, subject: str, text: str, *, data: dict | None = None, **values) -> Message:
    """A notification from a subject and a text marked with N_ (their %(name)s filled from `values`),
    translated to `lang`: what a new alert needs, in both languages."""
    w = words(lang)
    return Message(subject=PREFIX + w._(subject, **values), text=w._(text, **values),
                   data={**(data or {}), "lang": w.tag})
