"""English and Simplified Chinese through gettext catalogues, and locale-aware formatting.

Only the stdlib `gettext` reads the compiled catalogues at run time (Babel is a build-time tool: `make
translations`), so the router needs nothing more. The locale comes from the `lang` cookie, which the switch
on every page sets through `?lang=`, else from Accept-Language.
"""

from __future__ import annotations

import gettext as _gettext
from datetime import date, datetime
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Flask, current_app, g, request

LOCALES = {"en": "English", "zh": "中文"}
_CATALOGUE = {"en": "en", "zh": "zh_CN"}
COOKIE = "lang"


@cache
def translations(locale: str, directory: str) -> _gettext.NullTranslations:
    """The compiled catalogue of `locale` (English is the source language: no catalogue needed)."""
    if locale == "en":
        return _gettext.NullTranslations()
    return _gettext.translation("messages", directory, languages=[_CATALOGUE[locale]], fallback=True)


def _from_accept_language(header: str) -> str:
    """The best of our locales for an Accept-Language header, English when none fits."""
    best, best_q = "en", 0.0
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        q -= i * 1e-3  # earlier wins a tie
        primary = tag.strip().lower().split("-")[0]
        if primary in LOCALES and q > best_q:
            best, best_q = primary, q
    return best


def get_locale() -> str:
    """'en' or 'zh' for this request."""
    if "locale" not in g:
        asked = request.args.get("lang", "")
        if asked in LOCALES:
            g.locale = asked
        elif request.cookies.get(COOKIE) in LOCALES:
            g.locale = request.cookies[COOKIE]
        else:
            g.locale = _from_accept_language(request.headers.get("Accept-Language", ""))
    return g.locale


def _catalogue() -> _gettext.NullTranslations:
    return translations(get_locale(), current_app.config["TRANSLATIONS_DIR"])


def gettext(message: str, **variables) -> str:
    """Translate `message` for this request; %(name)s placeholders are filled from `variables`."""
    text = _catalogue().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    variables.setdefault("num", n)
    return _catalogue().ngettext(singular, plural, n) % variables


_ = gettext


class _RequestTranslations:
    """What jinja2.ext.i18n installs: it hands each lookup to the current request's catalogue."""

    def gettext(self, message: str) -> str:
        return _catalogue().gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _catalogue().ngettext(singular, plural, n)


# -- formatting ------------------------------------------------------------------------------------------

_PREFIXES = ["", "k", "M", "G", "T", "P", "E"]
_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _si(value: float, unit: str) -> str:
    """Powers of 1000 like the CLI, at most three significant digits, no trailing zeros: '1.5 GB'."""
    if value is None:
        return "–"
    v, i = abs(float(value)), 0
    while i < len(_PREFIXES) - 1 and float(f"{v:.3g}") >= 1000:
        v /= 1000
        i += 1
    r = float(f"{v:.3g}")
    text = f"{r:.0f}" if i == 0 else f"{r:.2f}".rstrip("0").rstrip(".")
    return f"{'-' if value < 0 else ''}{text} {_PREFIXES[i]}{unit}"


def format_size(n: float | None) -> str:
    """Bytes: '0 B', '999 B', '1.5 GB' (SI units read the same in both languages)."""
    return _si(n, "B")


def format_rate(bits: float | None) -> str:
    """Bits/s: '256 kbit/s'."""
    return _si(bits, "bit/s")


def format_number(n: float | None) -> str:
    """Grouped thousands: '12,345' (both languages group by three with a comma)."""
    if n is None:
        return "–"
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def _parse_time(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def format_date(value, locale: str | None = None) -> str:
    """'1 Dec' / '12月1日'."""
    t = _parse_time(value)
    if t is None:
        return "–"
    if (locale or get_locale()) == "zh":
        return f"{t.month}月{t.day}日"
    return f"{t.day} {_MONTHS_EN[t.month - 1]}"


def format_datetime(value, locale: str | None = None) -> str:
    """'1 Dec, 00:00' / '12月1日 00:00'."""
    t = _parse_time(value)
    if t is None:
        return "–"
    sep = " " if (locale or get_locale()) == "zh" else ", "
    return f"{format_date(t, locale)}{sep}{t:%H:%M}"


def format_time(value) -> str:
    """'14:00' in both."""
    t = _parse_time(value)
    return "–" if t is None else f"{t:%H:%M}"


def format_percent(part: float | None, whole: float | None) -> int:
    """Share of `whole` used, 0-100, for progress bars."""
    if not whole or part is None:
        return 0 if whole else 0
    return max(0, min(100, round(100 * part / whole)))


# What a path may keep as it is (RFC 3986 pchar and "/"); anything else is percent-encoded, so that
# no backslash, tab, newline, space or other character a browser reads as a separator survives.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def local_path(path: str) -> str:
    """`path` (as the request named it, decoded) as a link that stays on this site: percent-encoded,
    starting with exactly one "/" (a browser reads "//host" and "/\\host" as another site)."""
    return "/" + quote(path, safe=_PATH_SAFE).lstrip("/")


def lang_url(code: str) -> str:
    """This page's URL with `lang=code`, keeping its other parameters (a kept `url`, say)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", code)]
    return local_path(request.path) + "?" + urlencode(args)


def init_app(app: Flask) -> None:
    """Install the gettext extension, the formatting filters and the `lang` switch's cookie."""
    app.config.setdefault("TRANSLATIONS_DIR", str(Path(app.config["WEB_DIR"]) / "translations"))
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_translations(_RequestTranslations(), newstyle=True)
    app.jinja_env.filters.update(
        size=format_size,
        rate=format_rate,
        number=format_number,
        date=format_date,
        datetime=format_datetime,
        time=format_time,
        size_or_dash=lambda v: format_size(v) if v is not None else "–",
        rate_or_dash=lambda v: format_rate(v) if v is not None else "–",
    )
    app.jinja_env.globals.update(get_locale=get_locale, lang_url=lang_url, locales=LOCALES,
                                 percent=format_percent)

    @app.after_request
    def _remember(resp):
        asked = request.args.get("lang", "")
        if asked in LOCALES:
            resp.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True)
        resp.headers["Content-Language"] = "zh-CN" if get_locale() == "zh" else "en"
        resp.vary.add("Accept-Language")
        resp.vary.add("Cookie")
        return resp
