"""The admin forms take their fields from the options' declarations: every field declared on a form is on
its page, with its label and value, and a bad value is refused naming the field as declared."""

from __future__ import annotations

import html
import re

import pytest

from hotspot.config import OPTIONS
from tests.unit.portal.test_admin import admin, post  # noqa: F401  (the logged-in client fixture)

PAGES = {"settings": "/admin/settings", "plan-cycle": "/admin/plan", "plan-guard": "/admin/plan"}


@pytest.mark.parametrize("form", PAGES)
def test_every_declared_field_is_on_its_form_labelled(admin, backend, form):  # noqa: F811
    page = html.unescape(admin.get(PAGES[form] + "?lang=en").get_data(as_text=True))
    declared = [o for o in OPTIONS if o.admin is not None and o.admin.form == form]
    assert declared
    for o in declared:
        if o.admin.radio:
            for value, label, about in o.admin.choices:
                assert f'name="{o.name}" value="{value}"' in page and label in page and about in page, o.name
            continue
        assert f'<label for="{o.name}">{o.admin.label}</label>' in page, o.name
        assert re.search(rf'<(input|select) id="{o.name}" name="{o.name}"', page), o.name
        for value, label, *_ in o.admin.choices:
            assert f'<option value="{value}"' in page and f">{label}</option>" in page, (o.name, value)
        if o.admin.hint:
            assert o.admin.hint in page, o.name
        if not o.admin.choices:
            assert f'name="{o.name}" value="{backend._settings.get(o.name, "")}"' in page, o.name


def test_a_field_is_named_in_the_owners_language_from_its_declaration(admin, backend):  # noqa: F811
    r = post(admin, "/admin/plan?lang=zh", form="guard", plan_throttle_at="", plan_throttle_rate="1mbit",
             plan_block_at="", plan_stop_at="", roaming_throttle_at="", roaming_block_at="",
             roaming_stop_at="2000%", alert_at="80")
    assert r.status_code == 400
    assert "漫游时：停止点: " in html.unescape(r.get_data(as_text=True))  # "Roaming: stop at", declared alone
    r = post(admin, "/admin/settings?lang=en", default_cap="", period="monthly", period_start="1",
             after_cap="explode", after_cap_rate="256kbit", auth="none")
    assert r.status_code == 400 and "When a device reaches its cap: 'explode' is not one of block, throttle" \
        in html.unescape(r.get_data(as_text=True))
    assert [c for c in backend.calls if c[0] == "set_settings"] == []
