"""The one place the OpenWrt tests import hotspot's own code (its modules will move; change it here)."""

from hotspot.core.config import ConfigError, load, uci_options

__all__ = ["ConfigError", "load", "uci_options"]
