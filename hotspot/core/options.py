"""The core's own options: where hotspotd keeps its files, how often it reads the kernel and writes to
flash, and which conntrack mark bits hold a client's id. Every capability stands on these; none owns them."""

from __future__ import annotations

from hotspot.core.config import Bad, Option, absolute_path, ranged
from hotspot.core.units import quote

HEADING = "hotspotd: its files, its polls, its mark bits"


def mark_mask(v: str) -> int:
    """A 32-bit mask of at least 2 contiguous bits, in any base int() reads ('0xffff0000')."""
    try:
        mask = int(v, 0)
    except ValueError:
        raise Bad(f"{quote(v)} is not a number (e.g. 0xffff0000)") from None
    low = mask & -mask
    if not 0 < mask <= 0xFFFFFFFF or (mask + low) & mask or mask // low < 3:
        raise Bad(f"{quote(v)} is not a 32-bit mask of at least 2 contiguous bits (e.g. 0xffff0000)")
    return mask


def seconds_text(value: float) -> str:
    """2.0 -> '2', 0.25 -> '0.25': what ranged() reads back to the same float."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


OPTIONS = (
    Option("state_dir", absolute_path, "/etc/hotspot", "Where usage, caps and history are kept (flash).",
           "Where usage, caps and history are kept; on flash, so they survive reboots.", heading=HEADING),
    Option("run_dir", absolute_path, "/var/run/hotspot", "Volatile runtime files (RAM).",
           "Volatile runtime files; in RAM, lost at reboot.", heading=HEADING),
    Option("poll_interval", ranged(0.2, 3600, "a number of seconds between 0.2 and 3600", integer=False), 2.0,
           "Seconds between reads of the kernel counters.",
           "Seconds between reads of the kernel counters, 0.2..3600. Caps are enforced in the kernel to the "
           "byte whatever this is; it sets how fresh the figures shown are.", heading=HEADING,
           spell=seconds_text),
    Option("commit_interval", ranged(10, 86400, "a whole number of seconds between 10 and 86400"), 600,
           "Seconds between writes to flash.",
           "Seconds between writes of usage history to flash, 10..86400. A power cut loses at most this much "
           "history; shorter wears the flash faster.", heading=HEADING),
    Option("ct_mark_mask", mark_mask, 0xFFFF0000, "The conntrack mark bits that hold the client id.",
           "The bits of the conntrack mark that hold the client id; every other bit is left as other "
           "packages set it (mwan3 keeps its uplink in 0x3f00). Contiguous bits; n bits allow 2^n - 2 "
           "clients, at most 32766.", heading=HEADING, spell=lambda mask: f"{mask:#010x}"),
)
