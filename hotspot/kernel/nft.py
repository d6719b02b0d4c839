"""The only module that talks to nftables: the executor that loads our table and changes it.

The ruleset file (nft/hotspot.nft, with the defines of our marks and portal port) goes through
`nft -f`'s parser once, at build; everything after is python-nftables' JSON API in batches (one
transaction each) of commands that rules.py builds, so no value from a user, a DHCP lease or the
config is ever pasted into nft syntax. Reads that must be fast (every counter and quota at each
poll) are raw netlink dumps (dumps.py), and the table's deletion is noticed by watch.py: neither
goes through libnftables.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from hotspot.kernel.dumps import (
    NftError,
    dump_app_counters,
    dump_counters,
    dump_quotas,
    dump_set_counters,
    table_handle,
)
from hotspot.kernel.rules import (
    FAMILY,
    TABLE,
    TAIL,
    UNREGISTERED_SETS,
    ClientElements,
    Guard,
    Marks,
    address_cmds,
    app_counter_set,
    category_address_text,
    chain_names,
    drop_cmds,
    elem,
    forget_unregistered_cmds,
    gate_unregistered_cmds,
    guard_cmds,
    guard_limit_cmds,
    hold_cmds,
    http_cmds,
    interface_cmds,
    new_clients_text,
    obj,
    policy_cmds,
    policy_needs_handles,
    quota_name,
    release_holds_cmds,
    rule,
    unlink_cmds,
    unregistered_key,
)

_NFT_DIR = Path(os.environ.get("HOTSPOT_NFT_DIR", Path(__file__).resolve().parents[2] / "nft"))
if not (_NFT_DIR / "hotspot.nft").exists():  # installed layout (openwrt/): /usr/share/hotspot/
    _NFT_DIR = Path(os.environ.get("HOTSPOT_SHARE") or "/usr/share/hotspot")  # as core.parts.share_dir
RULESET, HOOK = _NFT_DIR / "hotspot.nft", _NFT_DIR / "hook.nft"
_ADDRESSES_A_BATCH = 10_000  # elements of addr4/addr6 a build adds per transaction (see build)
_NO_GUARD = Guard()  # a table without the plan guard (Guard is frozen: one default serves all)


class Nft:
    """A handle on our table in the current network namespace."""

    guard = _NO_GUARD  # the plan guard the table was built with (its rules are in every chain)

    def __init__(self, marks: Marks | None = None, guard: Guard = _NO_GUARD) -> None:
        self.marks = marks or Marks()
        self.guard = guard
        self._nft = self._context()

    @staticmethod
    def _context():
        import nftables  # Debian's python3-nftables; imported here so pure modules never need it

        ctx = nftables.Nftables()
        ctx.set_json_output(True)
        ctx.set_handle_output(True)
        return ctx

    # -- plumbing -------------------------------------------------------------------------------

    def batch(self, commands: list[dict]) -> list:
        """Run JSON commands as one atomic transaction; returns nft's output objects."""
        if not commands:
            return []
        rc, out, err = self._nft.json_cmd({"nftables": commands})
        if rc != 0:
            raise NftError(_one_line(err) or f"nft failed with status {rc}")
        if isinstance(out, dict):
            return out.get("nftables", [])
        return []

    def _file(self, text: str) -> None:
        rc, _out, err = self._nft.cmd(text)
        if rc != 0:
            raise NftError(_one_line(err) or f"nft failed with status {rc}")

    def _list(self, what: dict) -> list:
        try:
            return self.batch([{"list": what}])
        except NftError as e:
            if "No such file or directory" in str(e):
                return []
            raise

    def _rule_handles(self, chain: str) -> list[int]:
        listed = self._list({"chain": {"family": FAMILY, "table": TABLE, "name": chain}})
        return [o["rule"]["handle"] for o in listed if "rule" in o]

    # -- the table ------------------------------------------------------------------------------

    def table_handle(self) -> int | None:
        """The handle of our table, or None; a new handle means the table was rebuilt."""
        return table_handle(TABLE)

    def build(self, lan: list[str], wan: list[str], clients: list[ClientElements], *,
              portal_port: int = 8080, gate_unregistered: bool = False, free: list[str] = (),
              guard: Guard = _NO_GUARD, guard_limits: dict[str, int] | None = None, plan_used: int = 0,
              dns_redirect: bool = False, unregistered_cap: int | None = None) -> int:
        """Build the table with every client in it, hooking it into the forward and nat paths only
        at the end, so no packet meets a table without its clients; returns the table's handle.
        `portal_port`: where plain HTTP to the portal is redirected (0: no portal, nothing is
        redirected and a held client's HTTP meets its gate like its other packets);
        `gate_unregistered` (auth click or voucher): MACs not registered yet are gated and their HTTP
        goes to the portal. `free`:
        uplinks that are not metered. `guard`: the plan guard's levels, each with its point in
        `guard_limits` (bytes), seeded with `plan_used`, the plan's bytes this cycle so far.
        `dns_redirect`: plain DNS from the LAN to any server goes to the router's own resolver.
        `unregistered_cap`: default_cap, met by devices not registered yet from their first byte."""
        port = int(portal_port)
        if not 0 <= port <= 65535:
            raise ValueError(f"portal port {port} is not between 0 (no portal) and 65535")
        # A context of its own, dropped after: libnftables caches what a batch touched, ~15 MB at
        # 5,000 clients, which a long-running daemon would otherwise keep.
        kept, self._nft = self._nft, self._context()
        try:
            # The file needs a port to parse; without a portal its one redirect is flushed at once.
            self._file(self.marks.defines() + f"redefine PORTAL_PORT = {port or 1}\n" + RULESET.read_text())
            if not port:
                self.batch([{"flush": obj("chain", "portal")}])
            handle = self.table_handle()
            assert handle is not None
            self.guard = guard
            self.set_interfaces(lan, wan, free)
            if gate_unregistered:
                self.batch(gate_unregistered_cmds())
            if dns_redirect:
                self.batch([{"add": rule("dns_redirect", [{"redirect": None}])}])
            self._build_guard(guard, guard_limits or {}, plan_used, unregistered_cap)
            taken: set[str] = set()  # an address names one client, even if the database says two
            unique = []
            for c in clients:
                unique.append(dataclasses.replace(c, ips=tuple(ip for ip in c.ips if ip not in taken)))
                taken.update(c.ips)
            self.add_clients([dataclasses.replace(c, ips=()) for c in unique])
            self._file(HOOK.read_text())
            # Addresses last, once the table is live: they only name download packets that conntrack
            # cannot (see nft/hotspot.nft), which meanwhile count as unregistered, never lost. Every
            # client's counters and policy go first (at 5,000 clients, 5,000+ elements less before
            # the hook). Once the hook is in, every transaction that adds jumps makes the kernel
            # check again every chain they reach, so they go 10,000 a transaction (all of them at
            # 5,000 clients: 52-70 ms against 87-120 ms in transactions of 2,000; PLAIN_ADDRESSES in
            # tests/bench/plainexp.py), which still bounds a transaction with many IPv6 addresses.
            owned = [(ip, c.id) for c in unique for ip in c.ips]
            for i in range(0, len(owned), _ADDRESSES_A_BATCH):
                self.batch(address_cmds("add", owned[i:i + _ADDRESSES_A_BATCH]))
        finally:
            self._nft = kept
            _release_memory()
        return handle

    def set_interfaces(self, lan: list[str], wan: list[str], free: list[str] = ()) -> None:
        """Which devices are the LAN, the metered uplinks and the free ones."""
        self.batch(interface_cmds(lan, wan, free))

    def _build_guard(self, guard: Guard, limits: dict[str, int], base: int, cap: int | None = None) -> None:
        """The guard's quotas, the default cap's and the guard's rules in the unregistered tails
        (before their counting rules: what they drop counts nowhere), and the router's own chains:
        all before the hook, like the clients'."""
        tails = {chain: self._rule_handles(chain)[-TAIL[chain]] for chain in ("upload", "download")}
        self.batch(guard_cmds(guard, limits, base, tails, cap))

    def set_guard_limits(self, limits: dict[str, int | None], base: int) -> None:
        """Move the guard's points (a top-up, a new quota, roaming, a new cycle) in one transaction:
        each quota starts again from zero and allows what is left from `base` (the plan's bytes now)
        to its point. A quota that dropped packets has counted them too; starting from the bytes
        that were delivered, a top-up gives the clients all of it."""
        self.batch(guard_limit_cmds(self.guard, limits, base))

    def delete_table(self) -> bool:
        if self.table_handle() is None:
            return False
        self.batch([{"delete": {"table": {"family": FAMILY, "name": TABLE}}}])
        return True

    # -- clients --------------------------------------------------------------------------------

    def add_clients(self, clients: list[ClientElements], chunk: int = 1000, *,
                    release: tuple[list[str], list[str]] = ([], [])) -> None:
        """Create the quotas, chains and map elements of new clients as nft text (rules.new_clients_text:
        only values our code formatted from parsed types), `chunk` clients a transaction: libnftables
        holds a whole transaction in memory (a 5,000-client one peaks at 180 MB; 1,000 at 60 MB, what
        250-client JSON batches took), and text costs it half the CPU of JSON. `release`: (MACs,
        addresses) held while their bytes were read, let go in the transaction that registers them."""
        for i in range(0, max(len(clients), 1), chunk):
            last = i + chunk >= len(clients)
            if clients[i:i + chunk] or (last and any(release)):
                self._file(new_clients_text(clients[i:i + chunk], self.marks, self.guard,
                                            release if last else ([], [])))
        self.forget_unknown([c.mac for c in clients])

    def update_client(self, c: ClientElements, *, was: ClientElements) -> None:
        """Move one client's kernel state from `was` to `c` in one transaction."""
        handles = None
        if policy_needs_handles(c, was, self.marks, self.guard):
            handles = {chain: self._rule_handles(chain) for chain in chain_names(c.id)}
        self.batch(policy_cmds(c, was=was, marks=self.marks, guard=self.guard, handles=handles))

    def move_addresses(self, dropped: list[tuple[str, int]], added: list[tuple[str, int]]) -> None:
        """Take (address, client id) pairs out of the address maps and put others in, at once."""
        cmds = address_cmds("delete", dropped) + address_cmds("add", added)
        if cmds:
            self.batch(cmds)

    def set_http(self, clients: list[tuple[str, bool]]) -> None:
        """Send each (MAC, portal) client's plain HTTP to the portal or let it pass, whatever it did
        before (every registered client has an element in `http`). 1,000 clients a batch, to keep
        libnftables' memory small when hotspotd rewrites them all at start."""
        for i in range(0, len(clients), 1000):
            self.batch(http_cmds(clients[i:i + 1000]))

    # -- clients that leave (hotspot/clients/retention.py) ----------------------------------------

    def unlink_clients(self, clients: list[ClientElements]) -> None:
        """Take clients out of every map that reaches their chains and out of `http` and `free`, in
        one transaction. From the next packet on their traffic counts as not registered, so their
        chains' counters hold their last bytes, to be read before drop_clients."""
        if not clients:
            return
        self.batch(unlink_cmds(clients, self.marks))

    def drop_clients(self, clients: list[ClientElements]) -> None:
        """Delete unlinked clients' chains and quotas (one transaction), then their elements in the
        per-category counting sets: nothing of theirs is left for a new client given the same id."""
        if not clients:
            return
        self.batch(drop_cmds(clients))
        self.drop_app_counters([c.id for c in clients])

    def drop_app_counters(self, ids: list[int]) -> None:
        """Delete the elements of client ids in the per-category counting sets (cu_*, cd_*): one
        dump of the sets, one transaction for the elements found."""
        marks = {self.marks.value(cid) for cid in ids}
        cmds = []
        for (category, direction), counts in dump_app_counters(TABLE).items():
            found = sorted(m for m in counts if m in marks)
            if found:
                cmds.append({"delete": elem(app_counter_set(category, direction), found)})
        self.batch(cmds)

    # -- quotas ---------------------------------------------------------------------------------

    def reset_quota(self, cid: int) -> int | None:
        """Zero a client's quota; returns the bytes it had consumed (None if it has no quota)."""
        try:
            out = self.batch([{"reset": obj("quota", quota_name(cid))}])
        except NftError:
            return None
        for o in out:
            if "quota" in o:
                return o["quota"].get("used", 0)
        return None

    def reset_quotas(self) -> None:
        """Zero every client's quota at once (period rollover). A voucher's data and the plan's are
        not the period's: when there are such quotas, the clients' are reset one by one, by name."""
        names = list(dump_quotas(TABLE))
        if all(n.startswith(("q", "a")) for n in names):  # caps and ask points: the period's
            self.batch([{"reset": {"quotas": {"family": FAMILY, "table": TABLE}}}])
            return
        mine = [n for n in names if n.startswith(("q", "a"))]
        for i in range(0, len(mine), 1000):
            self.batch([{"reset": obj("quota", n)} for n in mine[i:i + 1000]])

    def delete_quotas(self, names: list[str]) -> None:
        """Delete quotas no rule uses any more (a revoked voucher's); one missing is no error."""
        for name in names:
            try:
                self.batch([{"delete": obj("quota", name)}])
            except NftError:
                pass

    # -- devices not registered yet: their MACs, their own bytes, their default cap --------------

    def unknown_macs(self) -> list[str]:
        for o in self._list({"set": {"family": FAMILY, "table": TABLE, "name": "unknown"}}):
            if "set" in o:
                return [_elem_key(e) for e in o["set"].get("elem", [])]
        return []

    def forget_unknown(self, macs: list[str]) -> None:
        """Drop registered MACs from the unknown set (deleting a missing element is not an error)."""
        present = set(self.unknown_macs())
        gone = [m for m in macs if m in present]
        if gone:
            self.batch([{"delete": elem("unknown", gone)}])

    def read_unregistered(self) -> dict[tuple[str, str], int]:
        """{(MAC or address, "up"/"down"): bytes} from the elements of unregistered devices."""
        out = {}
        for name, direction in UNREGISTERED_SETS.items():
            for raw, nbytes in dump_set_counters(TABLE, name).items():
                out[(unregistered_key(raw), direction)] = nbytes
        return out

    def read_unregistered_caps(self) -> dict[str, int]:
        """{address: bytes its default-cap quota consumed} of unregistered devices (drops included)."""
        return {unregistered_key(raw): used for name in ("unreg_cap4", "unreg_cap6")
                for raw, used in dump_set_counters(TABLE, name, "quota").items()}

    def forget_unregistered(self, macs: list[str], addrs: list[str]) -> None:
        """Delete the elements of devices whose bytes were credited. One that is gone already (it timed
        out) is no error: the batch is tried again one element at a time."""
        cmds = forget_unregistered_cmds(macs, addrs)
        try:
            self.batch(cmds)
        except NftError:
            for cmd in cmds:
                for item in cmd["delete"]["element"]["elem"]:
                    try:
                        self.batch([{"delete": elem(cmd["delete"]["element"]["name"], [item])}])
                    except NftError:
                        pass

    def hold(self, macs: list[str], addrs: list[str]) -> None:
        """Drop the packets of unregistered devices (by MAC up, by address down) for a moment."""
        self.batch(hold_cmds("add", macs, addrs))

    def release_holds(self) -> None:
        """Let every held device go (hotspotd at start: a hold a crash left behind)."""
        self.batch(release_holds_cmds())

    # -- app categories: addresses the DNS snooper saw (hotspot/apps/snoop/snooper.py) -----------

    def add_category_addresses(self, entries: list[tuple[str, str, int, int]]) -> None:
        """Put (category, address, ttl, left) in the category's address set, c4_<category> or
        c6_<category>, and in the union of them all, c4_any or c6_any, as one transaction: the
        element's timeout is the answer's TTL and it expires `left` seconds from now. An address
        already there gets the new timeout: `add element` keeps an existing element's, so each is
        added, deleted and added again (the first add makes the delete safe for one not there)."""
        self._file(category_address_text(entries))

    # -- reading (netlink dumps, dumps.py) -------------------------------------------------------

    def read_objects(self) -> dict[str, int]:
        """Every counter's bytes ("u<id>", "d<id>") and every quota's consumed bytes ("q<id>")."""
        return {**dump_counters(TABLE), **dump_quotas(TABLE)}

    def read_quotas(self) -> dict[str, int]:
        """Every quota's consumed bytes ("q<id>")."""
        return dump_quotas(TABLE)

    def read_counters(self) -> dict[str, int]:
        """Only the counters: what each poll needs."""
        return dump_counters(TABLE)

    def read_apps(self) -> dict[tuple[int, str, str], int]:
        """Bytes per (client id, category, "up"/"down") since the table was built (client id 0: the
        router's own traffic)."""
        out = {}
        for (cat, direction), counts in dump_app_counters(TABLE).items():
            for mark, nbytes in counts.items():
                out[(mark >> self.marks.shift, cat, direction)] = nbytes
        return out

    def flow_offload(self) -> list[str]:
        """Describe every rule that offloads flows (they bypass the forward hook, so nothing counts)."""
        found = []
        for o in self._list({"ruleset": None}):
            r = o.get("rule")
            if not r:
                continue
            for stmt in r.get("expr", []):
                flow = stmt.get("flow")
                if flow and flow.get("op") == "add":
                    found.append(f"table {r['family']} {r['table']} chain {r['chain']}: "
                                 f"flow add {flow.get('flowtable', '')}")
        return found


def _elem_key(e) -> str:
    if isinstance(e, dict) and "elem" in e:
        return e["elem"]["val"]
    return e


def _release_memory() -> None:
    """Hand the heap a build freed back to the system: glibc keeps it (musl, OpenWrt's libc, returns
    it by itself, and there this does nothing)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (ImportError, OSError, AttributeError):
        pass


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.strip().startswith("^")]
    return lines[0] if lines else ""
