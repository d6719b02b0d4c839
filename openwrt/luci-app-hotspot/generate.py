"""The LuCI app's generated files, made from hotspot's own declarations (build time, on a PC):

- htdocs/luci-static/resources/hotspot/options.json: the options the owner may set (the admin UI's
  fields: hotspot/*/options.py), each with its label, hint, choices, default and the check its parser
  makes, which the Settings view turns into a form.Map over /etc/config/hotspot;
- po/templates/hotspot.pot: every text the views translate (their _('...') and the options' texts);
  po/zh_Hans/hotspot.po takes the options' Chinese from the portal's catalogue.

    python3 openwrt/luci-app-hotspot/generate.py      (tests/unit/openwrt/test_luci_app.py fails while a
                                                       committed file differs from what this makes)
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent
ROOT = APP.parents[1]
OPTIONS_JSON = APP / "htdocs/luci-static/resources/hotspot/options.json"
VIEWS = APP / "htdocs/luci-static/resources/view/hotspot"
POT = APP / "po/templates/hotspot.pot"
ZH = APP / "po/zh_Hans/hotspot.po"
PORTAL_ZH = ROOT / "web/translations/zh_CN/LC_MESSAGES/messages.po"
# The admin UI's forms, as LuCI's tabs: (form, title).
TABS = (("settings", "Caps and sign-in"), ("plan-cycle", "Data plan"), ("plan-guard", "Plan guard"))


def check_of(parse) -> dict:
    """What an option's parser accepts, for the view to check a field as the parser would before it is
    saved (hotspotd's own check on save is the authority: `hotspotctl settings check`)."""
    from hotspot.alerts.language import LANGUAGES
    from hotspot.alerts.options import language, percents
    from hotspot.core import config as c
    from hotspot.plan.options import local_time, threshold, timezone

    if isinstance(parse, c.ByOption):
        by = {value: check_of(p) for value, p in parse.parsers.items()}
        return {"kind": "by", "option": parse.option, "by": by, "otherwise": check_of(parse.otherwise)}
    known = {c.size_or_none: {"kind": "size", "empty": True}, c.size: {"kind": "size"},
             c.rate: {"kind": "rate"}, c.duration: {"kind": "duration"}, threshold: {"kind": "threshold"},
             timezone: {"kind": "timezone"}, local_time: {"kind": "datetime"}, percents: {"kind": "percents"},
             language: {"kind": "choice", "values": list(LANGUAGES)}}
    if parse in known:
        return known[parse]
    made_by = parse.__qualname__.split(".<locals>")[0]
    seen = inspect.getclosurevars(parse).nonlocals
    if made_by == "ranged":
        return {"kind": "range", "min": seen["lo"], "max": seen["hi"], "integer": bool(seen["integer"])}
    if made_by == "choice":
        return {"kind": "choice", "values": list(seen["choices"])}
    raise TypeError(f"the LuCI app does not know the parser {parse.__qualname__}: add it to check_of")


def options() -> dict:
    from hotspot.config import Config

    found = []
    for name, o in Config.schema.options.items():
        f = o.admin
        if f is None or not f.form:
            continue
        found.append({"name": name, "tab": f.form, "label": f.label, "hint": f.hint,
                      "placeholder": f.placeholder, "choices": [list(ch) for ch in f.choices],
                      "maxlength": f.maxlength, "numeric": f.numeric, "default": o.text(o.default),
                      "check": check_of(o.parse)})
    return {"config": Config.schema.section, "section": "main",
            "tabs": [{"name": n, "title": t} for n, t in TABS], "options": found}


# -- the catalogue ------------------------------------------------------------------------------------------

_CALL = re.compile(r"""\b_\(\s*'((?:[^'\\]|\\.)*)'""")


def view_texts() -> list[str]:
    """The literal texts of _('...') in the views (single-quoted, as LuCI's code style has them)."""
    found = []
    for js in sorted(VIEWS.glob("*.js")):
        for m in _CALL.finditer(js.read_text()):
            found.append(re.sub(r"\\(.)", r"\1", m.group(1)))
    return found


def menu_texts() -> list[str]:
    menu = json.loads((APP / "root/usr/share/luci/menu.d/luci-app-hotspot.json").read_text())
    return [entry["title"] for entry in menu.values()]


def option_texts(doc: dict) -> list[str]:
    found = [t["title"] for t in doc["tabs"]]
    for o in doc["options"]:
        found += [o["label"], o["hint"]] + [text for ch in o["choices"] for text in ch[1:]]
        if o["placeholder"] and not o["placeholder"][0].isdigit():
            found.append(o["placeholder"])
    return [t for t in found if t]


def po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def pot(texts: list[str]) -> str:
    out = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8"', ""]
    for t in sorted(dict.fromkeys(texts)):
        out += [f"msgid {po_string(t)}", 'msgstr ""', ""]
    return "\n".join(out)


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (no plurals, no contexts: neither the portal's nor ours use them
    where they meet)."""
    found, key, value, last = {}, None, None, None
    for line in path.read_text().splitlines() + [""]:
        if line.startswith("msgid "):
            key, value, last = _unquote(line[6:]), None, "id"
        elif line.startswith("msgstr "):
            value, last = _unquote(line[7:]), "str"
        elif line.startswith('"') and last:
            if last == "id":
                key += _unquote(line)
            else:
                value += _unquote(line)
        elif not line.strip():
            if key and value is not None:
                found[key] = value
            key, value, last = None, None, None
    return found


def _unquote(text: str) -> str:
    return json.loads(text.strip())


def zh(texts: list[str], option_list: list[str]) -> str:
    """The Chinese catalogue: the options' texts from the portal's catalogue, so the admin UI and LuCI
    say the same; the views' as translated here by hand, else as the portal says the same words."""
    ours = read_po(ZH) if ZH.exists() else {}
    portal = read_po(PORTAL_ZH)
    out = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', '"Language: zh_Hans\\n"',
           ""]
    for t in sorted(dict.fromkeys(texts)):
        first, then = (portal, ours) if t in option_list else (ours, portal)
        said = first.get(t) or then.get(t) or ""
        out += [f"msgid {po_string(t)}", f"msgstr {po_string(said)}", ""]
    return "\n".join(out)


def files() -> dict[Path, str]:
    doc = options()
    option_list = option_texts(doc)
    texts = view_texts() + menu_texts() + option_list
    return {OPTIONS_JSON: json.dumps(doc, indent=1, ensure_ascii=False) + "\n", POT: pot(texts),
            ZH: zh(texts, option_list)}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for path, text in files().items():
        path.write_text(text)
        print(path.relative_to(ROOT))
