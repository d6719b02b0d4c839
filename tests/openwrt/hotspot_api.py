"""The one place the OpenWrt tests import hotspot's own code (its modules will move; change it here)."""

from hotspot.config import Config, ConfigError, check_setting, dump, load, write_settings
from hotspot.core.uci import UciWriter, parse, sections, uci_options

__all__ = ["Config", "ConfigError", "UciWriter", "check_setting", "dump", "load", "parse", "sections",
           "uci_options", "write_settings"]
