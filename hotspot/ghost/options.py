"""The options of ghost traffic: whether to watch, how far above its usual a device must go, and how long
and how much an event must last and move."""

from __future__ import annotations

from hotspot.core.config import Option, boolean, choice, duration, size, size_text

HEADING = "Ghost traffic"

OPTIONS = (
    Option("ghost", boolean, True, "Watch for ghost traffic and alert the owner.",
           "Watch each device for data it uses when or how it usually does not (流量偷跑): a sudden "
           "sustained upload, far more traffic than it ever has at that hour, or a steady flow at an hour it "
           "is normally quiet. Its own hourly history (weeks of it) is its normal, so a camera uploading all "
           "day or a nightly backup raises nothing. An event names the destinations that carried the bytes, "
           "alerts the owner through the channels above, shows a banner on the device's page and offers to "
           "block a destination for that device or pause it. '1' or '0'.", heading=HEADING),
    Option("ghost_sensitivity", choice("low", "medium", "high"), "medium",
           "How far above its usual a device must go: low, medium or high.",
           "How far above its usual level a device must go: 'low' (6x), 'medium' (4x) or 'high' (2.5x, more "
           "alerts).", heading=HEADING),
    Option("ghost_bin", duration, 300, "Seconds per bin the detector looks at.",
           "The detector's bin (seconds of the polls' bytes added up), and how long and how much an event "
           "must last and move.", heading=HEADING),
    Option("ghost_min_duration", duration, 1800, "Seconds it must last to be an event.", heading=HEADING,
           joined=True),
    Option("ghost_min_bytes", size, 20_000_000, "Bytes it must move to be an event.", heading=HEADING,
           joined=True, spell=size_text),
)
