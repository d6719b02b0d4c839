"""Throttle with tc HTB: a shaper delivers the rate it promises, a policer does not.

An nftables `limit` drops what exceeds the rate; TCP then delivers 10-20 % more or less than asked
(measured in tests/lab). So the kernel table only classifies: it sets a throttled packet's priority
to the client's HTB class ("1:<minor>"), and HTB, which finds a class by priority in O(1), queues
and paces it. Download is shaped leaving the LAN device, upload leaving each WAN device.
Unclassified traffic goes straight through HTB's direct queue, unshaped.

Each client id has two class minors: 2*id for a manual throttle, 2*id+1 for after-cap throttling,
so the switch at the cap happens in the kernel, at the byte, with no poll.
"""

from __future__ import annotations

import logging
import socket
import subprocess

log = logging.getLogger(__name__)

LEAF_PACKETS = 64  # the queue of a throttled client: enough for TCP to fill the rate, little bloat
MAX_CLIENT_ID = 0x7FFF  # two class minors per id must fit in 16 bits


class ShaperError(RuntimeError):
    pass


def class_id(cid: int, capped: bool = False) -> str:
    """The HTB class id, as nftables' classid map value, of a client's manual or after-cap throttle."""
    if not 2 <= cid <= MAX_CLIENT_ID:
        raise ValueError(f"client id {cid} out of range for shaping")
    return f"1:{2 * cid + capped:x}"


def _class_args(rate_bps: int) -> list[str]:
    # A burst of ~5 ms at the rate (at least two full-size frames) keeps HTB precise at high rates.
    burst = max(3200, rate_bps // 8 // 200)
    return ["rate", f"{rate_bps}bit", "ceil", f"{rate_bps}bit", "burst", str(burst), "cburst", str(burst)]


class Shaper:
    """HTB classes on the LAN device (download) and WAN devices (upload)."""

    def __init__(self, lan: str, wan: list[str], tc: str = "tc") -> None:
        self.devices = [lan, *wan]
        self.tc = tc

    def _run(self, lines: list[str]) -> None:
        if not lines:
            return
        proc = subprocess.run(
            [self.tc, "-force", "-batch", "-"], input="\n".join(lines) + "\n", text=True, capture_output=True
        )
        if proc.returncode != 0:
            msg = " ".join((proc.stderr or proc.stdout).split())
            raise ShaperError(f"tc: {msg[:300]}")

    def present(self) -> list[str]:
        """The devices that exist now (an LTE device comes and goes). hotspotd asks at every poll:
        one netlink dump of the links (if_nameindex), not an `ip` process each time."""
        names = {name for _index, name in socket.if_nameindex()}
        return [d for d in self.devices if d in names]

    def setup(self) -> list[str]:
        """Give each present device our HTB root, unless it already has it (keep existing classes)."""
        lines = []
        devices = self.present()
        for dev in devices:
            if not self._ours(dev):
                lines.append(f"qdisc replace dev {dev} root handle 1: htb default 0 direct_qlen 1000")
        self._run(lines)
        return devices

    def set_classes(self, classes: dict[str, int | None]) -> None:
        """Create, change (rate) or remove (None) classes on every present device, in one tc batch."""
        if not classes:
            return
        devices = self.setup()
        lines, removals = [], []
        for minor_id, rate_bps in classes.items():
            minor = minor_id.split(":")[1]
            for dev in devices:
                if rate_bps is None:
                    removals.append(f"class del dev {dev} classid 1:{minor}")
                    continue
                args = " ".join(_class_args(rate_bps))
                lines.append(f"class replace dev {dev} parent 1: classid 1:{minor} htb {args}")
                leaf = f"handle {minor}: pfifo limit {LEAF_PACKETS}"
                lines.append(f"qdisc replace dev {dev} parent 1:{minor} {leaf}")
        self._run(lines)
        try:
            self._run(removals)
        except ShaperError as e:  # a class that is already gone is fine
            log.debug("%s", e)

    def _ours(self, dev: str) -> bool:
        out = subprocess.run([self.tc, "qdisc", "show", "dev", dev, "root"], text=True, capture_output=True)
        return out.stdout.startswith("qdisc htb 1:")

    def teardown(self) -> None:
        lines = [f"qdisc del dev {dev} root" for dev in self.present() if self._ours(dev)]
        try:
            self._run(lines)
        except ShaperError as e:
            log.debug("teardown: %s", e)
