"""The uplink: the modem (ModemManager) and whether the uplink in use is metered."""
