"""Usage history: a client's or the plan's bytes by hour, day or month, and the poll's bounded
compaction of what retention moved on (the buckets' rules are hotspot/history/buckets.py, pure)."""

from __future__ import annotations

from hotspot.core.contract import BackendError, mac_arg
from hotspot.core.engine import Keeper
from hotspot.core.units import InvalidValue
from hotspot.history.usage import history_over


class History(Keeper):
    def __init__(self, core, clients, plan) -> None:
        super().__init__(core)
        self.clients = clients
        self.plan = plan
        self._compaction = None  # where the last compaction step stopped

    def _over(self, store=None):
        store = store or self.core.store
        return history_over(store, self.core.cfg, self.core.clock(), self.clients.period(store)[0],
                            self.plan.over(store).cycle())

    def query(self, subject: str, by: str = "hour", since=None, until=None) -> dict:
        """A client's (a MAC) or the plan's ("plan": every client and the router) usage by hour,
        day or month over [since, until) (see UsageHistory.query); NotFound, InvalidValue."""
        cid = None if subject == "plan" else self.clients.find(subject).id
        return self._over().query(cid, by, since, until)

    def rows(self, subject: str, by: str = "hour", since=None, until=None) -> list[dict]:
        """`hotspotctl history`: the rows of query."""
        return self.query(subject, by, since, until)["rows"]

    def compact(self, budget: float = 0.05) -> None:
        """hotspotd's poll: move a bounded share of expired hours into days, days into months."""
        self._compaction = self._over().compact(self._compaction, budget)

    # -- the socket's operations: a client's own through its reader, the owner's too -------------------

    def _read(self, cid: int | None, by, since, until) -> dict:
        texts = all(v is None or isinstance(v, str) for v in (since, until))
        if by not in ("hour", "day", "month") or not texts:
            raise BackendError("by must be hour, day or month; from and to dates or nothing")
        try:
            return self._over(self.core.reader()).query(cid, by, since or None, until or None)
        except InvalidValue as e:
            raise BackendError(str(e)) from None

    def me_history(self, ip, by="day", since=None, until=None) -> dict:
        return self._read(self.clients.at(ip).id, by, since, until)

    def history(self, subject, by="day", since=None, until=None) -> dict:
        if subject == "plan":
            return self._read(None, by, since, until)
        c = self.core.reader().client(mac_arg(subject))
        if c is None:
            raise BackendError(f"unknown client {subject}")
        return self._read(c.id, by, since, until)
