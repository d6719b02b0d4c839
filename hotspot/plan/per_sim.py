"""A plan per SIM or eSIM profile: which plan is in force, the others' settings and figures, and what the
owner does to a plan that is not the active one (hotspot.plan.sims keeps them in the database).

The settings in force are the config file's with the active SIM's plan options over them: every part of
hotspot reads the plan from the one Config the core holds, so a switch is a new Config and a swap of
the plan's state, and the guard in the kernel follows in the same step (the house's switch_sim).
"""

from __future__ import annotations

import logging

from hotspot.core.config import ConfigError
from hotspot.core.engine import Keeper
from hotspot.core.units import InvalidValue, check_iccid, iso
from hotspot.plan import calibration, sims
from hotspot.plan import model as plan

log = logging.getLogger("hotspot")

NAME_MAX = 40


class SimPlans(Keeper):
    """`base`: the config file's settings (the house keeps them; the core holds the ones in force)."""

    def __init__(self, core, base) -> None:
        super().__init__(core)
        self.base = base
        with core.transaction():
            sims.schema(core.store.db)
            sims.ensure_unmodemed(core.store.db, base, core.clock())

    @property
    def db(self):
        return self.store.db

    def active(self) -> str:
        return sims.active(self.db)

    def in_force(self, base) -> object:
        """The settings in force for the file's `base`: its own plan options without a modem, the active
        SIM's with one. A SIM's settings the options no longer take are logged; the file's apply."""
        iccid = self.active()
        r = sims.row(self.db, iccid) if iccid else None
        if r is None:
            return base
        try:
            return sims.checked(base, r["settings"], f"plan of SIM {iccid}")
        except ConfigError as e:
            log.error("%s; the config file's plan applies", e.errors[0])
            return base

    def resolve(self, given: str | None) -> str:
        """The ICCID `--sim` names (default: the active plan's; '' is the plan used without a modem).
        A SIM the router met is taken as the modem spelt it; another must be a valid ICCID."""
        if given is None:
            return self.active()
        text = given.strip()
        if text == "" or sims.row(self.db, text) is not None:
            if sims.row(self.db, text) is None:
                raise InvalidValue("no plan without a modem: every plan now belongs to a SIM")
            return text
        iccid = check_iccid(text)
        if sims.row(self.db, iccid) is None:
            raise InvalidValue(f"no SIM {iccid} has been seen here (hotspotctl plan list shows them)")
        return iccid

    # -- the owner's changes (the caller holds the core's lock) -----------------------------------------

    def settings_of(self, iccid: str) -> dict[str, str]:
        if iccid == "":
            return sims.template(self.base)
        return sims.row(self.db, iccid)["settings"]

    def set_settings(self, iccid: str, values: dict[str, str]) -> object:
        """A SIM's plan options changed (each checked as the config file's are); the Config in force
        for it. ConfigError (nothing changed) for anything wrong."""
        merged = {**self.settings_of(iccid), **values}
        cfg = sims.checked(self.base, merged, f"plan of SIM {iccid}")
        with self.core.transaction():
            sims.set_settings(self.db, iccid, merged)
        return cfg

    def name(self, iccid: str, name: str | None) -> None:
        if name is not None:
            name = name.strip()
            if not name or len(name) > NAME_MAX or not name.isprintable():
                raise InvalidValue(f"invalid plan name {name!r}: 1 to {NAME_MAX} printable characters")
        with self.core.transaction():
            sims.set_name(self.db, iccid, name)

    def topup(self, iccid: str, size: int) -> None:
        """A top-up for a plan that is not in force (bought before the SIM goes in)."""
        cfg = sims.checked(self.base, self.settings_of(iccid), iccid)
        if cfg.plan_quota is None:
            raise ValueError("the plan has no quota to top up; set one with 'hotspotctl plan set SIZE'")
        with self.core.transaction():
            state = sims.state_of(self.db, iccid)
            sims.set_state_value(self.db, iccid, "plan_topup", int(state.get("plan_topup", 0)) + size)

    # -- views ----------------------------------------------------------------------------------------------

    def listing(self, active_view: dict) -> list[dict]:
        """`hotspotctl plan list`: every plan, with `active_view` (the plan keeper's view) for the one
        in force."""
        found = []
        active = self.active()
        for r in sims.rows(self.db):
            iccid = r["iccid"]
            if iccid == active:
                v = active_view
                found.append(self._entry(r, True, v["used"], v["quota"], v["topup"], v["allowance"],
                                         v["cycle"], v["cycle_start"], v["cycle_end"]))
                continue
            state = sims.state_of(self.db, iccid)
            try:
                cfg = sims.checked(self.base, r["settings"], iccid)
            except ConfigError:
                cfg = self.base
            used, topup = int(state.get("plan_used", 0)), int(state.get("plan_topup", 0))
            start, end = state.get("plan_start"), state.get("plan_end")
            found.append(self._entry(r, False, used, cfg.plan_quota, topup, plan.allowance(cfg, topup),
                                     cfg.plan_period, iso(float(start)) if start else None,
                                     iso(float(end)) if end else None))
        return found

    def _entry(self, r: dict, active: bool, used: int, quota, topup: int, allowance, cycle, start,
               end) -> dict:
        iccid = r["iccid"] or None
        return {"iccid": iccid, "name": r["name"], "active": active, "used": used, "quota": quota,
                "topup": topup, "allowance": allowance,
                "percent": None if not allowance else round(used * 100 / allowance, 1),
                "cycle": cycle, "cycle_start": start, "cycle_end": end, "operator": r["operator"],
                "sim_type": r["sim_type"], "first_seen": iso(r["first_seen"]),
                "last_seen": iso(r["last_seen"]),
                "settings": r["settings"] if iccid else sims.template(self.base),
                "calibrations": calibration.recent(self.db, r["iccid"], 5)}
