"""hotspot: per-client accounting, caps and throttle for metered-uplink routers."""

__version__ = "0.1.0"
