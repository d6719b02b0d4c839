"""The admin forms' fields, taken from the options' declarations (hotspot/<capability>/options.py): each
field's label, hint, placeholder and choices in the owner's language, and each value checked with the
config file's own rules before hotspotd is asked, so a bad value gets a one-line 400 and nothing is
written (hotspotd checks the whole file again before it replaces it).

A template lays the fields out (web/templates/admin/_fields.html); which fields a form has, and what
they are called, is declared once, beside the option. The declarations are imported when an owner's
form first needs them: a guest's page never does, and they weigh 1.6 MB in each portal worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hotspot.core.units import InvalidValue
from hotspot.portal.i18n import _

if TYPE_CHECKING:
    from hotspot.core.config import Option


def fields_of(form: str) -> list[Option]:
    """The options a form sets, in declaration order (a start day after its period)."""
    from hotspot.config import OPTIONS

    return [o for o in OPTIONS if o.admin is not None and o.admin.form == form]


def _text(message: str) -> str:
    return _(message) if message else ""  # gettext('') is the catalogue's header


def fields(*forms: str, values: Mapping[str, str]) -> dict[str, dict]:
    """Each field of `forms` as a template shows it, by option name, with its value from `values`."""
    shown = {}
    for form in forms:
        for o in fields_of(form):
            f = o.admin
            shown[o.name] = {
                "name": o.name, "label": _(f.label), "hint": _text(f.hint),
                "placeholder": _text(f.placeholder), "maxlength": f.maxlength, "numeric": f.numeric,
                "radio": f.radio,
                "choices": [(c[0], _(c[1]), _text(c[2]) if len(c) > 2 else "") for c in f.choices],
                "value": values.get(o.name, ""),
            }
    return shown


def posted(form: str, data: Mapping[str, str]) -> dict[str, str]:
    """The posted values of a form's fields, trimmed."""
    return {o.name: (data.get(o.name) or "").strip() for o in fields_of(form)}


def checked(values: dict[str, str]) -> dict[str, str]:
    """`values` if each is one the config file takes (a start day against the period among them);
    InvalidValue names the first bad field by its label."""
    from hotspot.config import OPTIONS, check_setting

    for key, value in values.items():
        try:
            check_setting(key, value, values)
        except ValueError as e:
            option = next(o for o in OPTIONS if o.name == key)
            raise InvalidValue(f"{_(option.admin.name_alone)}: {e}") from None
    return values
