"""The captive gate: admissions, vouchers, where a held client's plain HTTP goes."""
