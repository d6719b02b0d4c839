"""The one place the OpenWrt tests import hotspot's own code (its modules will move; change it here)."""

from hotspot.config import ConfigError, load
from hotspot.core.uci import uci_options

__all__ = ["ConfigError", "load", "uci_options"]
