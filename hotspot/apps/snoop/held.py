"""What the kernel's sets and the names file hold, and until when, so that an answer which only pushes
an expiry further on is written once, shortly before the held one runs out, rather than each time
a client asks again.

At 1,000 answers/s the same addresses come back every few seconds: writing each answer took more than
half of the snooper's CPU, in libnftables and SQLite (tests/bench/snoop.py). Nothing is lost: an
entry is never left to expire while a later answer keeps it alive; it is rewritten with that
answer's TTL and deadline before it goes. What changes at once: a new entry, a new value (another
name for the address), an expiry brought forward (the latest answer's TTL rules, as before), and
anything held for less than AHEAD seconds more.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable

AHEAD = 5.0  # a deferred answer is written this long before the held entry would expire
ROUNDING = 0.5  # an expiry moved by less than this is the same one (nft keeps whole seconds)
BATCH = 1.0  # deferred answers due this soon after one being written go with it: one wake-up
# Entries held at most, per store (about 450 bytes each with their strings, so 4.5 MB at most): past
# this a new one is written at every answer, as if nothing were held, so a flood of distinct addresses
# costs CPU, never the router's memory. The bench holds 4,000 names and 2,000 set elements.
MAX_HELD = 10000


class Held:
    """Entries written to one store, key -> (deadline, value, payload), and answers deferred, key ->
    (deadline, payload). `value` is what must match for an answer to wait (the kernel: nothing; the
    names file: the name and category); `payload` is what a write needs."""

    def __init__(self, ahead: float = AHEAD, max_held: int = MAX_HELD) -> None:
        self.ahead, self.max_held = ahead, max_held
        self.held: dict[Hashable, tuple[float, object, object]] = {}
        self.later: dict[Hashable, tuple[float, object]] = {}
        # (when a deferred answer is due, its key, the held deadline it waits for): only keys with a
        # later answer are here, so nothing wakes for an entry left to expire; one whose key was
        # written again since is stale and skipped
        self._due: list[tuple[float, Hashable, float]] = []

    def wait(self, key: Hashable, value, deadline: float, payload, now: float) -> bool:
        """Whether this answer can wait (kept for later: True) or must be written now (False)."""
        held = self.held.get(key)
        if (held is None or held[1] != value or held[0] - now <= self.ahead
                or deadline < held[0] - ROUNDING):
            return False
        if deadline - held[0] >= ROUNDING:
            if key not in self.later:
                heapq.heappush(self._due, (held[0] - self.ahead, key, held[0]))
            self.later[key] = (deadline, payload)
        return True

    def written(self, key: Hashable, value, deadline: float, payload) -> None:
        if len(self.held) >= self.max_held and key not in self.held:
            return
        self.held[key] = (deadline, value, payload)
        self.later.pop(key, None)
        if len(self._due) > 2 * len(self.later) + 1024:  # keys written again since: drop the stale
            self._due = [(self.held[k][0] - self.ahead, k, self.held[k][0]) for k in self.later]
            heapq.heapify(self._due)

    def due(self, now: float) -> list[tuple[Hashable, object]]:
        """(key, payload) of the deferred answers whose held entry expires within AHEAD seconds, and
        of those due within BATCH seconds more, written with them: the caller writes them."""
        out = []
        due = self._due
        while due and due[0][0] <= now + BATCH:
            _when, key, deadline = heapq.heappop(due)
            held = self.held.get(key)
            if held is not None and held[0] == deadline and key in self.later:
                out.append((key, self.later.pop(key)[1]))
        return out

    def next_due(self) -> float | None:
        """When due has something (or nothing: an entry written again since), None for never."""
        return self._due[0][0] if self._due else None

    def expire(self, now: float) -> None:
        """Forget what expired with no later answer (it only costs memory: nothing wakes for it)."""
        gone = [key for key, (deadline, _v, _p) in self.held.items() if deadline <= now]
        for key in gone:
            if key not in self.later:
                del self.held[key]

    def forget(self) -> list[tuple[Hashable, object]]:
        """The store lost what it held (nft's table rebuilt): (key, payload) of everything to write
        again, the latest answer's for each key; nothing is held any more."""
        out = {key: payload for key, (_d, _v, payload) in self.held.items()}
        out.update((key, payload) for key, (_d, payload) in self.later.items())
        self.held.clear()
        self.later.clear()
        self._due.clear()
        return list(out.items())

    def __len__(self) -> int:
        return len(self.held)
