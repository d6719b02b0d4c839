"""The uplink's data plan: its cycle, its guard's points, what it has used."""
