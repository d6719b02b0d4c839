"""`hotspotd [-c FILE]`: runs in the foreground, loads the table, polls, enforces and serves the portal.
SIGTERM: flush to disk, exit 0; SIGHUP: commit now and reload the snooper's categories."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from hotspot import __version__
from hotspot.config import DEFAULT_PATH, ConfigError, load
from hotspot.core.files import write_atomic
from hotspot.core.uci import uci_options
from hotspot.daemon.loop import Daemon
from hotspot.daemon.portal import remove_old_copies
from hotspot.house import House, daemon_pid

log = logging.getLogger("hotspot")

FLOW_OFFLOAD_HELP = (
    "flow offloading is on ({where}): offloaded flows bypass the forward hook, so hotspot could "
    "neither count nor cap them. Turn it off with: uci set firewall.@defaults[0].flow_offloading=0; "
    "uci set firewall.@defaults[0].flow_offloading_hw=0; uci commit firewall; /etc/init.d/firewall restart"
)
FIREWALL_CONFIG = os.environ.get("HOTSPOT_FIREWALL_CONFIG", "/etc/config/firewall")


def flow_offloading(house: House) -> list[str]:
    """Where flow offloading is on: rules in the kernel now, or fw4's config (it may load them later)."""
    found = house.nft.flow_offload()
    try:
        defaults = uci_options(Path(FIREWALL_CONFIG).read_text(), "defaults")
    except OSError:
        defaults = {}
    found += [f"{FIREWALL_CONFIG}: option {k} '1'" for k in ("flow_offloading", "flow_offloading_hw")
              if defaults.get(k) == "1"]
    return found


def setup_logging(verbose: bool = False) -> None:
    """One line per event on stderr, no timestamp: procd/logd (or journald) add their own."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hotspotd[%(process)d]: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hotspotd", description="hotspot daemon: counts, caps and throttles "
                                "LAN clients in the kernel.")
    p.add_argument("-c", "--config", default=DEFAULT_PATH, help=f"UCI config file (default {DEFAULT_PATH})")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"hotspotd {__version__}")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    try:
        cfg = load(args.config)
    except ConfigError as e:
        for line in e.errors:  # every mistake in the file, in file order
            log.error("%s", line)
        return 2

    # Nothing hotspotd writes is for other users (the database holds every client's usage), but the
    # portal's user must reach the socket in run_dir: it may pass through, not list (the store makes
    # run_dir so, or refuses one another user could change).
    os.umask(0o077)
    try:
        house = House(cfg)
    except OSError as e:  # e.g. UnsafePath: a run_dir or state_dir another user could change
        log.error("%s", e)
        return 1
    offloads = flow_offloading(house)
    if offloads:
        log.error(FLOW_OFFLOAD_HELP.format(where="; ".join(offloads)))
        return 1
    other = daemon_pid(cfg)
    if other and other != os.getpid():
        log.error("hotspotd is already running (pid %d)", other)
        return 1
    pidfile = Path(cfg.run_dir) / "hotspotd.pid"
    write_atomic(pidfile, f"{os.getpid()}\n", 0o600, keep=False)
    remove_old_copies(cfg.run_dir)

    daemon = Daemon(house)

    def stop(*_):
        daemon.stop.set()
        daemon.wake()

    def hup(*_):
        # Not here: the handler runs between two bytecodes of the poll, maybe inside its transaction,
        # which a commit's copy would wait for (for ever) or copy halfway.
        daemon.hup = True
        daemon.wake()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    signal.signal(signal.SIGHUP, hup)
    try:
        daemon.start()
        log.info("hotspotd %s: lan %s, wan %s, polling every %gs", __version__, cfg.lan_device,
                 ",".join(cfg.wan_device), cfg.poll_interval)
        daemon.run()
    finally:
        pidfile.unlink(missing_ok=True)
        house.close()
    return 0
