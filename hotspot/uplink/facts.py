"""The modem's figures as the pages and /metrics show them, from whichever names a reading used (no
Flask here: hotspotd's metrics textfile uses them too)."""

from __future__ import annotations

MODEM = ("operator", "technology", "signal", "rsrp", "roaming", "rx_bytes", "tx_bytes", "sim", "error")


def modem_facts(m) -> dict | None:
    """The modem's figures (status()["modem"], hotspot.uplink.modem.Modem.as_dict()) with every key of MODEM
    present, None where unknown; None when hotspotd reads no modem. Short names are taken too
    (operator, technology, signal, signal_dbm, a bearer's {"rx_bytes", "tx_bytes"} under "bearer")."""
    if not isinstance(m, dict):
        return None
    bearer = m.get("bearer") if isinstance(m.get("bearer"), dict) else {}
    radio = m.get("access_technologies")
    return {
        "operator": m.get("operator_name", m.get("operator")),
        "technology": " + ".join(str(t).upper() for t in radio) if radio else m.get("technology"),
        "signal": m.get("signal_quality", m.get("signal")),
        "rsrp": m.get("rsrp", m.get("signal_dbm")),
        "roaming": m.get("roaming"),
        "rx_bytes": m.get("rx_bytes", bearer.get("rx_bytes")),
        "tx_bytes": m.get("tx_bytes", bearer.get("tx_bytes")),
        "sim": m.get("sim_type"),
        "error": m.get("error"),
    }
