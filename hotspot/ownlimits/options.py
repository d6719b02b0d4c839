"""The option of a guest's own choices: the owner's default point to ask every device before going on."""

from __future__ import annotations

from hotspot.core.config import Option, size_or_none, size_text

HEADING = "The LAN, its metered uplinks, and each device's cap"

OPTIONS = (
    Option("ask_default", size_or_none, None,
           "Ask every device before it goes past this much this period; none: never.",
           "A point (a size, e.g. '500MB') at which every device is held until its user answers on the "
           "portal page that opens by itself: \"Continue to the limit\" or \"Stop here\". A device's own "
           "point and the owner's point for one device ('hotspotctl ask MAC SIZE|none|default') come "
           "first; empty or 'none': no device is asked unless it or the owner chose a point.",
           heading=HEADING, spell=size_text),
)
