"""The house's settings: every capability's options gathered into one Config, read from /etc/config/hotspot.

Each capability declares its own options beside its code (hotspot/<capability>/options.py); the order
below is the order of the shipped UCI file: first what every owner checks (the LAN, the metered uplinks,
the caps), then hotspotd's own files, the portal, the owner's access, the uplinks and the data plan, the
alerts, and the insights (ghost traffic, apps, history). The machinery is hotspot/core/config.py.

    python -m hotspot.config --uci-sample > openwrt/files/hotspot.config   (make uci-sample)
"""

from __future__ import annotations

import os
import sys

from hotspot.admin import options as admin
from hotspot.alerts import options as alerts
from hotspot.apps import options as apps
from hotspot.captive import options as captive
from hotspot.carrier import options as carrier
from hotspot.clients import options as clients
from hotspot.core import config as machinery
from hotspot.core import options as core
from hotspot.core.config import ConfigError
from hotspot.ghost import options as ghost
from hotspot.history import options as history
from hotspot.metrics import options as metrics
from hotspot.ownlimits import options as ownlimits
from hotspot.plan import model as plan_model
from hotspot.plan import options as plan
from hotspot.radius import options as radius
from hotspot.uplink import options as uplink

__all__ = ["DEFAULT_PATH", "OPTIONS", "SETTABLE", "Config", "ConfigError", "check_setting", "dump", "load",
           "settings_text", "uci_sample", "write_settings"]

DEFAULT_PATH = "/etc/config/hotspot"
SECTION_TYPE = "hotspot"
CAPABILITIES = (clients, ownlimits, core, captive, radius, admin, metrics, uplink, plan, carrier, alerts,
                ghost, apps, history)
OPTIONS = tuple(o for c in CAPABILITIES for o in c.OPTIONS)

Config = machinery.make_config(OPTIONS, section=SECTION_TYPE, default_path=DEFAULT_PATH,
                               checks=[check for c in CAPABILITIES for check in getattr(c, "CHECKS", ())],
                               methods={"guard": plan_model.guard}, module=__name__)
SETTABLE = Config.schema.settable  # what the owner may set: the admin UI, `hotspotctl plan set`

HEADER = """\
# hotspot: per-client usage accounting, caps and throttle for a metered uplink.
# Every option below is shown with its default value. Apply changes with: /etc/init.d/hotspot restart
# Sizes: B KB MB GB TB are powers of 1000, KiB MiB GiB TiB powers of 1024 (e.g. '2GB', '500MiB').
# Rates: bit kbit mbit gbit, bits per second, powers of 1000 (e.g. '256kbit', '2mbit').
"""


def load(path: str | os.PathLike = DEFAULT_PATH) -> Config:
    """Read and check the config file; a file without a hotspot section gives all defaults.

    Raises ConfigError listing every problem in the file, not just the first."""
    return machinery.load(path, Config)


def dump(cfg: Config) -> str:
    """UCI text for `cfg` that load() reads back to an equal Config (for tests, the lab and the UI)."""
    return machinery.dump(cfg)


def check_setting(key: str, value: str, context: dict[str, str] | None = None) -> object:
    """One settable option's text checked as load() checks it (a start day against the period in
    `context`, the form's other fields); its typed value, or ValueError with the reason in one line. The
    admin UI refuses a bad field with this before anything is written."""
    return machinery.check_setting(Config, key, value, context)


def settings_text(cfg: Config) -> dict[str, str]:
    """The settable options as the config file spells them (for the admin UI's forms)."""
    return machinery.settings_text(cfg)


def write_settings(path: str, values: dict[str, str]) -> Config:
    """Set settable options in the file, keeping every other line and comment as it is; the new file is
    checked as a whole before it replaces the old one. Raises ConfigError (nothing written) with every
    problem, each naming its option."""
    return machinery.write_settings(path, values, Config)


def uci_sample() -> str:
    """The shipped /etc/config/hotspot: every option with its comment and default."""
    return machinery.uci_sample(Config, HEADER)


if __name__ == "__main__":
    if sys.argv[1:] != ["--uci-sample"]:
        sys.exit("usage: python -m hotspot.config --uci-sample")
    sys.stdout.write(uci_sample())
