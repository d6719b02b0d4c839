"""The only module that talks to nftables.

Writes go through python-nftables' JSON API in batches (one transaction each), so no value from a
user, a DHCP lease or the config is ever pasted into nft syntax. The hot read, every counter and
quota of every client at each poll, uses one netlink dump of the table's objects instead: libnftables
formats thousands of objects as JSON far too slowly for a router (see tests/bench).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from hotspot.apps.categories import CATEGORIES
from hotspot.kernel.netlink import attrs as _attrs
from hotspot.kernel.netlink import messages as _messages
from hotspot.kernel.netlink import pack_attr as _attr

FAMILY = "inet"
TABLE = "hotspot"
UNREGISTERED = 1  # client id of traffic from MACs not registered yet
ROUTER = 0  # "client" id of the router's own traffic over a metered uplink (chains up0, down0)
_NEVER = 2**62  # the point of a guard level that is off for now (configured only while roaming)
DEFAULT_MARK_MASK = 0xFFFF0000  # leaves the low 16 bits (mwan3's 0x3F00, qosify, ...) to others
_NFT_DIR = Path(os.environ.get("HOTSPOT_NFT_DIR", Path(__file__).resolve().parents[2] / "nft"))
if not (_NFT_DIR / "hotspot.nft").exists():  # installed layout (openwrt/): /usr/share/hotspot/
    _NFT_DIR = Path("/usr/share/hotspot")
RULESET, HOOK = _NFT_DIR / "hotspot.nft", _NFT_DIR / "hook.nft"


class NftError(RuntimeError):
    """nftables refused a command; the message is nft's own, on one line."""


@dataclass(frozen=True)
class Marks:
    """Where the client id lives in the conntrack mark: only in the bits of `mask`, which must be
    contiguous. The other bits belong to other packages (mwan3 keeps its uplink in 0x3F00) and every
    write keeps them: nft cannot OR a looked-up value into the mark, so each client's chain sets its
    own id as a constant."""

    mask: int = DEFAULT_MARK_MASK

    @property
    def shift(self) -> int:
        return (self.mask & -self.mask).bit_length() - 1

    @property
    def keep(self) -> int:
        return ~self.mask & 0xFFFFFFFF

    @property
    def max_id(self) -> int:
        return self.mask >> self.shift

    def value(self, cid: int) -> int:
        return cid << self.shift

    def defines(self) -> str:
        return (f"redefine ID_MASK = {self.mask:#x}\nredefine KEEP_MASK = {self.keep:#x}\n"
                f"redefine UNREGISTERED = {self.value(UNREGISTERED):#x}\n")


@dataclass(frozen=True)
class ClientElements:
    """Everything the kernel holds for one client."""

    id: int
    mac: str
    quota: int | None = None  # bytes allowed this period (cap + top-up), None = no cap
    used: int = 0  # bytes already used this period, restored into a new quota
    blocked: bool = False
    shape: str | None = None  # tc class id ("1:4") for a manual throttle
    shape_capped: str | None = None  # tc class id once the quota is used up (after_cap throttle)
    ips: tuple[str, ...] = ()  # its addresses, for download packets conntrack cannot name
    gated: bool = False  # captive gate: may reach only the router (not admitted)
    portal: bool = False  # its plain HTTP goes to the portal (blocked, capped or not admitted)
    voucher: int | None = None  # the voucher whose shared quota "v<id>" it meets (a voucher with data)
    voucher_quota: int | None = None  # that voucher's data, bytes
    voucher_used: int = 0  # what the voucher's devices used, restored into a new quota
    shape_rate: int | None = None  # the rates of the two throttle classes: the strictest class a
    capped_rate: int | None = None  # packet qualifies for is the one it gets (see client_rules)
    exempt: bool = False  # the owner's device: the plan guard counts its bytes but never holds it back
    blocked_dests: tuple[str, ...] = ()  # remote addresses (v4, v6) its chains drop (ghost traffic)
    app_guard: tuple[str, ...] = ()  # update guard: app categories held back (only metered pairs get here)
    app_guard_rate: int | None = None  # ... throttled to this rate in a shared class; None = blocked


GUARD_CLASS = "1:2"  # the HTB class the plan guard's throttle shares (client id 1 has no classes)
APP_GUARD_CLASS = "1:3"  # the update guard's shared throttle class (client id 1's other minor)
GUARD_LEVELS = ("throttle", "block", "stop")


@dataclass(frozen=True)
class Guard:
    """The plan guard as the kernel holds it: which levels exist (each a quota "g_<level>" that every
    metered packet meets once) and the rate of the throttle level's shared class."""

    levels: tuple[str, ...] = ()
    rate: int | None = None

    def rules(self, *, exempt: bool, hold: dict) -> tuple[list[list], list[tuple[int, list]]]:
        """(rules that drop or gate, (rate, rule) pairs that set a throttle class) for one chain:
        `hold` is how this chain holds a packet back (drop, or the gate on the way up); an exempt
        device's chain (and the router's) only counts, except at the "stop" level."""
        drops: list[list] = []
        setters: list[tuple[int, list]] = []
        for level in self.levels:
            q = {"quota": guard_quota_name(level)}
            if level == "stop":
                drops.append([q, _DROP])
            elif exempt:
                drops.append([q])  # counts only
            elif level == "block":
                drops.append([q, hold])
            else:
                setters.append((self.rate or 0, [q, _priority(GUARD_CLASS)]))
        return drops, setters


def guard_quota_name(level: str) -> str:
    return f"g_{level}"


def _guard_quota(point: int | None, base: int) -> dict:
    """A guard quota counting from `base` (the plan's bytes when it was made) to `point`; a level
    that is off for now (configured only while roaming) waits at a point no plan reaches."""
    return {"bytes": _NEVER if point is None else max(0, point - base), "used": 0, "inv": True}


def _obj(kind: str, name: str, **extra) -> dict:
    return {kind: {"family": FAMILY, "table": TABLE, "name": name, **extra}}


def _elem(name: str, elems: list) -> dict:
    return {"element": {"family": FAMILY, "table": TABLE, "name": name, "elem": elems}}


def _rule(chain: str, expr: list) -> dict:
    return {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "expr": expr}}


def _new_quota(c: ClientElements) -> dict:
    """A client's quota, seeded with what it used: the kernel refuses `used` above the limit (a cap
    set below this period's usage), and a full quota already drops or reclassifies the next packet."""
    return _obj("quota", quota_name(c.id), bytes=c.quota, used=min(c.used, c.quota), inv=True)


def _new_voucher_quota(c: ClientElements) -> dict:
    """A voucher's quota, shared by its devices. Adding it again when it exists (a second device)
    keeps what it consumed: the kernel updates only the limit of an existing quota."""
    return _obj("quota", voucher_quota_name(c.voucher), bytes=c.voucher_quota,
                used=min(c.voucher_used, c.voucher_quota), inv=True)


def _rule_at(chain: str, handle: int, expr: list | None = None) -> dict:
    """A rule by handle: to delete it, or (with expr) to insert a new rule just before it."""
    rule = {"family": FAMILY, "table": TABLE, "chain": chain, "handle": handle}
    return {"rule": {**rule, "expr": expr} if expr is not None else rule}


def counter_names(cid: int) -> tuple[str, str]:
    return f"u{cid}", f"d{cid}"


def quota_name(cid: int) -> str:
    return f"q{cid}"


def voucher_quota_name(vid: int) -> str:
    return f"v{vid}"


def chain_names(cid: int) -> tuple[str, str]:
    return f"up{cid}", f"down{cid}"


_DROP = {"drop": None}
_GATE = {"goto": {"target": "gate"}}
_TO_PORTAL = {"goto": {"target": "portal"}}
_PASS = {"accept": None}


def http_verdict(portal: bool) -> dict:
    """A client's verdict in the `http` map: its plain HTTP goes to the portal, or on its way."""
    return _TO_PORTAL if portal else _PASS


def _gate_unregistered_rule() -> list:
    """The `unregistered` chain's rule with auth click or voucher: note the MAC, then gate it."""
    ether_saddr = {"payload": {"protocol": "ether", "field": "saddr"}}
    return [{"set": {"op": "add", "elem": ether_saddr, "set": "@unknown"}}, _GATE]


# How many rules end upload and download counting devices not registered yet (hotspot.kernel.nft): the
# default cap's rules and the plan guard's go before them.
TAIL = {"upload": 2, "download": 3}


def unregistered_cap_rules(cap: int, chain: str) -> list[list]:
    """default_cap for devices not registered yet, in upload or download: a quota per device
    address (hotspot.kernel.nft, unreg_cap4/6), which drops the packet that would cross the cap."""
    field = "saddr" if chain == "upload" else "daddr"
    quota = {"quota": {"val": int(cap), "val_unit": "bytes", "inv": True}}
    return [[{"set": {"op": "update", "elem": {"payload": {"protocol": proto, "field": field}},
                      "set": f"@unreg_cap{family}", "stmt": [quota]}}, _DROP]
            for proto, family in (("ip", 4), ("ip6", 6))]


UNREGISTERED_SETS = {"unreg_up": "up", "unreg_down4": "down", "unreg_down6": "down"}


def unregistered_key(raw: bytes) -> str:
    """A key of the unregistered sets as hotspot writes it: a MAC (6 bytes) or an address."""
    if len(raw) == 6:
        return ":".join(f"{b:02x}" for b in raw)
    return str(ipaddress.ip_address(bytes(raw)))


def hold_cmds(op: str, macs: list[str], addrs: list[str]) -> list[dict]:
    """Add (or delete) devices to the sets that hold their packets while hotspotd reads their bytes."""
    cmds = []
    for name, items in (("unreg_hold", macs), ("unreg_hold4", [a for a in addrs if ":" not in a]),
                        ("unreg_hold6", [a for a in addrs if ":" in a])):
        if items:
            cmds.append({op: _elem(name, sorted(set(items)))})
    return cmds


def forget_unregistered_cmds(macs: list[str], addrs: list[str]) -> list[dict]:
    """Delete the elements of devices whose bytes were credited: their counters and cap quotas."""
    cmds = []
    v4, v6 = sorted({a for a in addrs if ":" not in a}), sorted({a for a in addrs if ":" in a})
    for name, items in (("unreg_up", sorted(set(macs))), ("unreg_down4", v4), ("unreg_cap4", v4),
                        ("unreg_down6", v6), ("unreg_cap6", v6)):
        if items:
            cmds.append({"delete": _elem(name, items)})
    return cmds


def _address_cmds(op: str, owned: list[tuple[str, int]]) -> list[dict]:
    """Add or delete addr4/addr6 elements for (address, client id) pairs."""
    cmds = []
    for name, v6 in (("addr4", False), ("addr6", True)):
        elems = [[ip, _goto(chain_names(cid)[1])] if op == "add" else ip
                 for ip, cid in owned if (":" in ip) == v6]
        if elems:
            cmds.append({op: _elem(name, elems)})
    return cmds


def _goto(chain: str) -> dict:
    return {"goto": {"target": chain}}


def _priority(classid: str) -> dict:
    return {"mangle": {"key": {"meta": {"key": "priority"}}, "value": classid}}


_COUNTER = {"counter": {"packets": 0, "bytes": 0}}
_CAT_UP, _CAT_DOWN = _goto("cat_up"), _goto("cat_down")  # the app categories (hotspot.kernel.nft)


def client_rules(c: ClientElements, marks: Marks, guard: Guard = Guard()) -> tuple[list[list], list[list]]:
    """The rules (statement lists) of a client's upload and download chains: its policy as constants,
    then the counter rule, always last and never replaced (it holds the bytes since the last poll).
    A blocked client's packets are dropped before they are counted; a gated one's go to the gate
    (TCP reset or ICMP admin-prohibited) on the way up and are dropped on the way down; a capped
    one meets its quota, which drops (or, with an after-cap throttle, reclassifies) what goes past
    the cap. A device on a voucher with data meets the voucher's quota, shared by all its devices,
    the same way: one more constant in its chain, whatever the number of devices. Then the plan
    guard's quotas. A client's blocked destinations (ghost traffic) are dropped before all of
    that. Rules that drop come first, so a packet one of them drops counts nowhere; the
    rules that set a throttle class follow from the fastest class to the slowest, so a packet ends
    in the strictest class it qualifies for (a guard's shared 1 Mbit/s does not lift a client's own
    256 kbit/s, nor does a client's 50 Mbit/s escape the guard)."""
    set_id = {"mangle": {"key": {"ct": {"key": "mark"}},
                         "value": {"|": [{"&": [{"ct": {"key": "mark"}}, marks.keep]}, marks.value(c.id)]}}}
    chains = []
    # The counter comes first: `ct mark set` reads the mark, which breaks the rule for a packet without
    # a conntrack entry, and that packet must still be counted. The counter rule ends in the app
    # categories' chain of its direction (hotspot.kernel.nft): only what the chain let through gets there.
    for counter, hold, remote in (([_COUNTER, set_id, _CAT_UP], _GATE, "daddr"),
                                  ([_COUNTER, _CAT_DOWN], _DROP, "saddr")):
        rules: list[list] = []
        if c.blocked:
            rules.append([_DROP])
        elif c.gated:
            rules.append([hold])
        else:
            drops, setters = _dest_drops(c.blocked_dests, remote), []
            if c.shape:
                setters.append((c.shape_rate or 0, [_priority(c.shape)]))
            quotas = []
            if c.quota is not None:
                quotas.append(quota_name(c.id))
            if c.voucher is not None and c.voucher_quota is not None:
                quotas.append(voucher_quota_name(c.voucher))
            for q in quotas:
                if c.shape_capped:
                    setters.append((c.capped_rate or 0, [{"quota": q}, _priority(c.shape_capped)]))
                else:
                    drops.append([{"quota": q}, _DROP])
            guard_drops, guard_setters = guard.rules(exempt=c.exempt, hold=hold)
            setters += guard_setters
            app = app_guard_rules(c.app_guard, "daddr" if hold is _GATE else "saddr",
                                  hold if c.app_guard_rate is None else _priority(APP_GUARD_CLASS))
            if c.app_guard_rate is None:
                drops += app
            else:
                setters += [(c.app_guard_rate, r) for r in app]
            rules += drops + guard_drops + [r for _, r in sorted(setters, key=lambda s: -s[0])]
        chains.append(rules + [counter])
    return chains[0], chains[1]


def _dest_drops(addrs: tuple[str, ...], field: str) -> list[list]:
    """Drop rules for the remote addresses a client blocked: one per address family that has any,
    matching the destination on the way up and the source on the way down (constants in the
    client's own chains: other clients pay nothing)."""
    rules = []
    for proto, v6 in (("ip", False), ("ip6", True)):
        mine = sorted(a for a in addrs if (":" in a) == v6)
        if mine:
            match = {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": field}},
                               "right": {"set": mine}}}
            rules.append([match, _DROP])
    return rules


def app_guard_rules(categories: tuple[str, ...], field: str, verdict: dict) -> list[list]:
    """The update guard in one chain: the remote address (`field`: daddr on the way up, saddr on the
    way down) in a held category's sets meets `verdict`. Only metered pairs reach a client's chains,
    so on a free uplink the guard is off without a rule changing."""
    rules = []
    for cat in categories:
        for proto, family in (("ip", 4), ("ip6", 6)):
            addr = {"payload": {"protocol": proto, "field": field}}
            rules.append([{"match": {"op": "==", "left": addr, "right": f"@c{family}_{cat}"}}, verdict])
    return rules


def router_rules(guard: Guard, categories: dict) -> list[list]:
    """One of the router's own chains (up0, down0): the guard's quotas, which only count except
    "stop", then the counter, on to the app categories of that direction (`categories`)."""
    drops, _ = guard.rules(exempt=True, hold=_DROP)
    return drops + [[_COUNTER, categories]]


def free_verdict(c: ClientElements) -> dict:
    """A client's verdict in the `free` map: an unmetered uplink holds back only the blocked and the
    gated."""
    return _GATE if c.blocked or c.gated else _PASS


class Nft:
    """A handle on our table in the current network namespace."""

    guard = Guard()  # the plan guard the table was built with (its rules are in every chain)

    def __init__(self, marks: Marks | None = None, guard: Guard = Guard()) -> None:
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

    # -- the table ------------------------------------------------------------------------------

    def table_handle(self) -> int | None:
        """The handle of our table, or None; a new handle means the table was rebuilt."""
        return table_handle(TABLE)

    def build(self, lan: list[str], wan: list[str], clients: list[ClientElements], *,
              portal_port: int = 8080, gate_unregistered: bool = False, free: list[str] = (),
              guard: Guard = Guard(), guard_limits: dict[str, int] | None = None, plan_used: int = 0,
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
                self.batch([{"flush": {"chain": {"family": FAMILY, "table": TABLE, "name": "portal"}}}])
            handle = self.table_handle()
            assert handle is not None
            self.guard = guard
            self.set_interfaces(lan, wan, free)
            if gate_unregistered:
                self.batch([{"add": _rule("unregistered", _gate_unregistered_rule())},
                            {"add": _rule("captive_http", [_TO_PORTAL])},
                            {"add": _rule("free_upload", [_GATE])}])
            if dns_redirect:
                self.batch([{"add": _rule("dns_redirect", [{"redirect": None}])}])
            self._build_guard(guard, guard_limits or {}, plan_used, unregistered_cap)
            taken: set[str] = set()  # an address names one client, even if the database says two
            unique = []
            for c in clients:
                unique.append(dataclasses.replace(c, ips=tuple(ip for ip in c.ips if ip not in taken)))
                taken.update(c.ips)
            self.add_clients([dataclasses.replace(c, ips=()) for c in unique])
            self._file(HOOK.read_text())
            # Addresses last, once the table is live: they only name download packets that conntrack
            # cannot (see hotspot.kernel.nft), which meanwhile count as unregistered, never lost. Every
            # client's counters and policy go first (at 5,000 clients, 5,000+ elements less before
            # the hook).
            owned = [(ip, c.id) for c in unique for ip in c.ips]
            for i in range(0, len(owned), 2000):
                self.batch(_address_cmds("add", owned[i:i + 2000]))
        finally:
            self._nft = kept
            _release_memory()
        return handle

    def set_interfaces(self, lan: list[str], wan: list[str], free: list[str] = ()) -> None:
        """Which devices are the LAN, the metered uplinks and the free ones."""
        paths = [[{"concat": [a, b]}, _goto(chain)]
                 for l_ in lan for w in wan for a, b, chain in ((l_, w, "upload"), (w, l_, "download"))]
        paths += [[{"concat": [l_, f]}, _goto("free_upload")] for l_ in lan for f in free]
        cmds = [{"flush": {"map": {"family": FAMILY, "table": TABLE, "name": "paths"}}},
                {"add": _elem("paths", paths)}]
        for name, items in (("lan_ifaces", lan), ("wan_ifaces", wan)):
            cmds += [{"flush": {"set": {"family": FAMILY, "table": TABLE, "name": name}}},
                     {"add": _elem(name, list(dict.fromkeys(items)))}]
        self.batch(cmds)

    def _build_guard(self, guard: Guard, limits: dict[str, int], base: int, cap: int | None = None) -> None:
        """The guard's quotas, the default cap's and the guard's rules in the unregistered tails
        (before their counting rules: what they drop counts nowhere), and the router's own chains:
        all before the hook, like the clients'."""
        cmds = [{"add": _obj("quota", guard_quota_name(level), **_guard_quota(limits.get(level), base))}
                for level in guard.levels]
        for chain, hold in (("upload", _GATE), ("download", _DROP)):
            tail = self._rule_handles(chain)[-TAIL[chain]]
            drops, setters = guard.rules(exempt=False, hold=hold)
            rules = [] if cap is None else unregistered_cap_rules(cap, chain)
            rules += drops + [r for _, r in sorted(setters, key=lambda x: -x[0])]
            cmds += [{"insert": _rule_at(chain, tail, expr)} for expr in rules]
        for chain, categories in zip(chain_names(ROUTER), (_CAT_UP, _CAT_DOWN)):
            cmds.append({"add": _obj("chain", chain)})
            cmds += [{"add": _rule(chain, expr)} for expr in router_rules(guard, categories)]
        self.batch(cmds)

    def set_guard_limits(self, limits: dict[str, int | None], base: int) -> None:
        """Move the guard's points (a top-up, a new quota, roaming, a new cycle) in one transaction:
        each quota starts again from zero and allows what is left from `base` (the plan's bytes now)
        to its point. A quota that dropped packets has counted them too; starting from the bytes
        that were delivered, a top-up gives the clients all of it."""
        cmds = []
        for level in self.guard.levels:
            cmds += [{"reset": _obj("quota", guard_quota_name(level))},
                     {"add": _obj("quota", guard_quota_name(level), **_guard_quota(limits.get(level), base))}]
        self.batch(cmds)

    def delete_table(self) -> bool:
        if self.table_handle() is None:
            return False
        self.batch([{"delete": {"table": {"family": FAMILY, "name": TABLE}}}])
        return True

    # -- clients --------------------------------------------------------------------------------

    def add_clients(self, clients: list[ClientElements], chunk: int = 250, *,
                    release: tuple[list[str], list[str]] = ([], [])) -> None:
        """Create the quotas, chains and map elements of new clients. Batches hold `chunk`
        clients: libnftables' memory grows with a batch (a 5,000-client one costs a router 180 MB;
        250 keeps the daemon near 40 MB, and larger batches are no faster). `release`: (MACs,
        addresses) held while their bytes were read, let go in the batch that registers them."""
        for i in range(0, len(clients), chunk):
            part = clients[i:i + chunk]
            cmds: list[dict] = []
            vouchers = {c.voucher: c for c in part if c.voucher is not None and c.voucher_quota is not None}
            cmds += [{"add": _new_voucher_quota(c)} for c in vouchers.values()]
            for c in part:
                if c.quota is not None:
                    cmds.append({"add": _new_quota(c)})
                for chain, rules in zip(chain_names(c.id), client_rules(c, self.marks, self.guard)):
                    cmds.append({"add": _obj("chain", chain)})
                    cmds += [{"add": _rule(chain, expr)} for expr in rules]
            cmds += [
                {"add": _elem("client_up", [[c.mac, _goto(chain_names(c.id)[0])] for c in part])},
                {"add": _elem("client_down", [[self.marks.value(c.id), _goto(chain_names(c.id)[1])]
                                              for c in part])},
                {"add": _elem("http", [[c.mac, http_verdict(c.portal)] for c in part])},
                {"add": _elem("free", [[c.mac, free_verdict(c)] for c in part])},
            ]
            cmds += _address_cmds("add", [(ip, c.id) for c in part for ip in c.ips])
            if i + chunk >= len(clients):
                cmds += hold_cmds("delete", *release)
            self.batch(cmds)
        self.forget_unknown([c.mac for c in clients])

    def update_client(self, c: ClientElements, *, was: ClientElements) -> None:
        """Move one client's kernel state from `was` to `c` in one transaction."""
        handles = None
        rules_change = client_rules(c, self.marks, self.guard) != client_rules(was, self.marks, self.guard)
        if rules_change or _requota(c, was):
            handles = {chain: self._rule_handles(chain) for chain in chain_names(c.id)}
        self.batch(self._policy_cmds(c, was=was, handles=handles))

    def move_addresses(self, dropped: list[tuple[str, int]], added: list[tuple[str, int]]) -> None:
        """Take (address, client id) pairs out of the address maps and put others in, at once."""
        cmds = _address_cmds("delete", dropped) + _address_cmds("add", added)
        if cmds:
            self.batch(cmds)

    def _rule_handles(self, chain: str) -> list[int]:
        listed = self._list({"chain": {"family": FAMILY, "table": TABLE, "name": chain}})
        return [o["rule"]["handle"] for o in listed if "rule" in o]

    def _policy_cmds(self, c: ClientElements, *, was: ClientElements,
                     handles: dict[str, list[int]] | None = None) -> list:
        """Replace the policy rules of the client's chains (`handles`: each chain's rule handles, the
        counter rule's last) if its policy changed; its counters carry on. A cap that changes (a
        top-up) makes its quota anew, seeded with the bytes delivered (`c.used`): the old one also
        counted the packets it dropped, and keeping them would give the client less than it was
        given. The rules that name the quota go first and come back after, in the same transaction."""
        cmds: list[dict] = []
        q = quota_name(c.id)
        requota = _requota(c, was) and handles is not None
        if c.quota is not None and was.quota is None:
            cmds.append({"add": _new_quota(c)})
        elif _requota(c, was) and not requota:
            # Re-adding an existing quota changes its limit but keeps what it has consumed.
            cmds.append({"add": _obj("quota", q, bytes=c.quota, inv=True)})
        if c.voucher is not None and c.voucher_quota is not None and (
                (c.voucher, c.voucher_quota) != (was.voucher, was.voucher_quota)):
            cmds.append({"add": _new_voucher_quota(c)})  # the first device creates it, others share it
        new = client_rules(c, self.marks, self.guard)
        if handles is not None and (new != client_rules(was, self.marks, self.guard) or requota):
            for chain in chain_names(c.id):
                cmds += [{"delete": _rule_at(chain, h)} for h in handles[chain][:-1]]
            if requota:
                cmds += [{"delete": _obj("quota", q)}, {"add": _new_quota(c)}]
            for chain, rules in zip(chain_names(c.id), new):
                cmds += [{"insert": _rule_at(chain, handles[chain][-1], expr)} for expr in rules[:-1]]
        if c.quota is None and was.quota is not None:
            cmds.append({"delete": _obj("quota", q)})  # after the rules that used it are gone
        if c.portal != was.portal:
            cmds += _http_cmds([(c.mac, c.portal)])
        if free_verdict(c) != free_verdict(was):  # a map element's verdict is replaced, not changed
            cmds += [{"delete": _elem("free", [c.mac])}, {"add": _elem("free", [[c.mac, free_verdict(c)]])}]
        cmds += _address_cmds("delete", [(ip, c.id) for ip in was.ips if ip not in c.ips])
        cmds += _address_cmds("add", [(ip, c.id) for ip in c.ips if ip not in was.ips])
        return cmds

    # -- clients that leave (hotspot/clients/retention.py) ------------------------------------------------

    def unlink_clients(self, clients: list[ClientElements]) -> None:
        """Take clients out of every map that reaches their chains (`client_up` by MAC,
        `client_down` by conntrack mark, `addr4`/`addr6` by address) and out of `http` and `free`,
        in one transaction. From the next packet on their traffic counts as not registered, so
        their chains' counters hold their last bytes, to be read before drop_clients."""
        if not clients:
            return
        cmds = [{"delete": _elem("client_up", [c.mac for c in clients])},
                {"delete": _elem("client_down", [self.marks.value(c.id) for c in clients])},
                {"delete": _elem("http", [c.mac for c in clients])},
                {"delete": _elem("free", [c.mac for c in clients])}]
        self.batch(cmds + _address_cmds("delete", [(ip, c.id) for c in clients for ip in c.ips]))

    def drop_clients(self, clients: list[ClientElements]) -> None:
        """Delete unlinked clients' chains and quotas (one transaction), then their elements in the
        per-category counting sets: nothing of theirs is left for a new client given the same id."""
        if not clients:
            return
        cmds = [{"delete": _obj("chain", name)} for c in clients for name in chain_names(c.id)]
        cmds += [{"delete": _obj("quota", quota_name(c.id))} for c in clients if c.quota is not None]
        self.batch(cmds)
        self.drop_app_counters([c.id for c in clients])

    def drop_app_counters(self, ids: list[int]) -> None:
        """Delete the elements of client ids in the per-category counting sets (cu_*, cd_*): one
        dump of the sets, one transaction for the elements found."""
        marks = {self.marks.value(cid) for cid in ids}
        cmds = []
        for (category, direction), counts in dump_app_counters(TABLE).items():
            found = sorted(m for m in counts if m in marks)
            if found:
                cmds.append({"delete": _elem(app_counter_set(category, direction), found)})
        self.batch(cmds)

    def set_http(self, clients: list[tuple[str, bool]]) -> None:
        """Send each (MAC, portal) client's plain HTTP to the portal or let it pass, whatever it did
        before (every registered client has an element in `http`). 1,000 clients a batch, to keep
        libnftables' memory small when hotspotd rewrites them all at start."""
        for i in range(0, len(clients), 1000):
            self.batch(_http_cmds(clients[i:i + 1000]))

    def reset_quota(self, cid: int) -> int | None:
        """Zero a client's quota; returns the bytes it had consumed (None if it has no quota)."""
        try:
            out = self.batch([{"reset": _obj("quota", quota_name(cid))}])
        except NftError:
            return None
        for obj in out:
            if "quota" in obj:
                return obj["quota"].get("used", 0)
        return None

    def reset_quotas(self) -> None:
        """Zero every client's quota at once (period rollover). A voucher's data and the plan's are
        not the period's: when there are such quotas, the clients' are reset one by one, by name."""
        names = list(dump_quotas(TABLE))
        if all(n.startswith("q") for n in names):
            self.batch([{"reset": {"quotas": {"family": FAMILY, "table": TABLE}}}])
            return
        mine = [n for n in names if n.startswith("q")]
        for i in range(0, len(mine), 1000):
            self.batch([{"reset": _obj("quota", n)} for n in mine[i:i + 1000]])

    def delete_quotas(self, names: list[str]) -> None:
        """Delete quotas no rule uses any more (a revoked voucher's); one missing is no error."""
        for name in names:
            try:
                self.batch([{"delete": _obj("quota", name)}])
            except NftError:
                pass

    def unknown_macs(self) -> list[str]:
        for obj in self._list({"set": {"family": FAMILY, "table": TABLE, "name": "unknown"}}):
            if "set" in obj:
                return [_elem_key(e) for e in obj["set"].get("elem", [])]
        return []

    def forget_unknown(self, macs: list[str]) -> None:
        """Drop registered MACs from the unknown set (deleting a missing element is not an error)."""
        present = set(self.unknown_macs())
        gone = [m for m in macs if m in present]
        if gone:
            self.batch([{"delete": _elem("unknown", gone)}])

    # -- devices not registered yet: their own bytes, their default cap -------------------------

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
                        self.batch([{"delete": _elem(cmd["delete"]["element"]["name"], [item])}])
                    except NftError:
                        pass

    def hold(self, macs: list[str], addrs: list[str]) -> None:
        """Drop the packets of unregistered devices (by MAC up, by address down) for a moment."""
        self.batch(hold_cmds("add", macs, addrs))

    # -- app categories: addresses the DNS snooper saw (hotspot/apps/snoop/snooper.py) ---------------------

    def add_category_addresses(self, entries: list[tuple[str, str, int, int]]) -> None:
        """Put (category, address, ttl, left) in the category's address set, c4_<category> or
        c6_<category>, and in the union of them all, c4_any or c6_any, as one transaction: the
        element's timeout is the answer's TTL and it expires `left` seconds from now. An address
        already there gets the new timeout: `add element` keeps an existing element's, so each is
        added, deleted and added again (the first add makes the delete safe for one not there)."""
        self.batch(category_address_cmds(entries))

    # -- reading --------------------------------------------------------------------------------

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
        for obj in self._list({"ruleset": None}):
            rule = obj.get("rule")
            if not rule:
                continue
            for stmt in rule.get("expr", []):
                flow = stmt.get("flow")
                if flow and flow.get("op") == "add":
                    found.append(f"table {rule['family']} {rule['table']} chain {rule['chain']}: "
                                 f"flow add {flow.get('flowtable', '')}")
        return found


def _requota(c: ClientElements, was: ClientElements) -> bool:
    """The client's cap changed (both before and after it has one)."""
    return c.quota is not None and was.quota is not None and c.quota != was.quota


def _http_cmds(clients: list[tuple[str, bool]]) -> list[dict]:
    """Replace the `http` elements of registered clients: a map element's verdict cannot be changed
    in place, so delete it and add it again, in the same transaction."""
    if not clients:
        return []
    return [{"delete": _elem("http", [mac for mac, _ in clients])},
            {"add": _elem("http", [[mac, http_verdict(portal)] for mac, portal in clients])}]


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


def category_address_cmds(entries: list[tuple[str, str, int, int]]) -> list[dict]:
    """The JSON commands of Nft.add_category_addresses. Every address is parsed before it goes near
    nft (a name never does); a bad entry raises ValueError and nothing is sent."""
    from hotspot.apps.categories import CATEGORIES

    by_set: dict[str, dict[str, dict]] = {}
    for category, address, ttl, left in entries:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        ip = ipaddress.ip_address(address)
        ttl, left = int(ttl), int(left)
        if not 1 <= left <= ttl:
            raise ValueError(f"expiry {left} s is not between 1 s and the timeout ({ttl} s)")
        elem = {"elem": {"val": str(ip), "timeout": ttl, "expires": left}}
        for name in (f"c{ip.version}_{category}", f"c{ip.version}_any"):
            by_set.setdefault(name, {})[str(ip)] = elem
    cmds = []
    for name, elems in by_set.items():
        fresh = list(elems.values())
        cmds += [{"add": _elem(name, fresh)}, {"delete": _elem(name, list(elems))},
                 {"add": _elem(name, fresh)}]
    return cmds


# -- netlink: the fast read path ---------------------------------------------------------------

_NETLINK_NETFILTER = 12
_NFNL_SUBSYS_NFTABLES = 10
_NFT_MSG_GETTABLE, _NFT_MSG_GETRULE, _NFT_MSG_GETOBJ = 1, 7, 19
_NFTA_TABLE_NAME, _NFTA_TABLE_HANDLE = 1, 4
_NFTA_RULE_TABLE, _NFTA_RULE_CHAIN, _NFTA_RULE_EXPRESSIONS = 1, 2, 4
_NFTA_EXPR_NAME, _NFTA_EXPR_DATA = 1, 2
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_DUMP = 0x1, 0x4, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NFPROTO_INET = 1
_NFTA_OBJ_TABLE, _NFTA_OBJ_NAME, _NFTA_OBJ_TYPE, _NFTA_OBJ_DATA = 1, 2, 3, 4
_NFT_OBJECT_QUOTA = 2
_NFTA_COUNTER_BYTES = 1
_NFTA_QUOTA_CONSUMED = 4


def _dump(msg: int, attrs: bytes, parse, *, flags: int = _NLM_F_DUMP) -> bool:
    """Send one nf_tables dump request (or, with flags=_NLM_F_ACK, a get of one object) and feed each
    reply's attributes to parse(buf, start, end). Returns False when the kernel answers ENOENT."""
    msg_type = (_NFNL_SUBSYS_NFTABLES << 8) | msg
    payload = struct.pack("=BBH", _NFPROTO_INET, 0, 0) + attrs
    header = struct.pack("=IHHII", 16 + len(payload), msg_type, _NLM_F_REQUEST | flags, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.send(header + payload)
        while True:
            data = sock.recv(1 << 17)
            for kind, body, end in _messages(data):
                if kind == _NLMSG_DONE:
                    return True
                if kind == _NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, body)
                    if errno == 0:
                        return True
                    if -errno == 2:
                        return False
                    raise NftError(f"netlink dump failed: {os.strerror(-errno)}")
                parse(data, body + 4, end)  # after the nfgenmsg header


def dump_quotas(table: str) -> dict[str, int]:
    """{name: consumed} for every quota of the table."""
    result: dict[str, int] = {}
    attrs = _attr(_NFTA_OBJ_TABLE, table.encode() + b"\0")
    attrs += _attr(_NFTA_OBJ_TYPE, struct.pack(">I", _NFT_OBJECT_QUOTA))
    _dump(_NFT_MSG_GETOBJ, attrs, lambda buf, a, b: _parse_quota(buf, a, b, result))
    return result


def dump_counters(table: str) -> dict[str, int]:
    """{"u<id>"/"d<id>": bytes} from the counter rule of every client chain of the table."""
    result: dict[str, int] = {}

    def parse(buf, start, end):
        found = _rule_counter(buf, start, end)
        if found:
            result[found[0]] = found[1]

    _dump(_NFT_MSG_GETRULE, _attr(_NFTA_RULE_TABLE, table.encode() + b"\0"), parse)
    return result


def client_counters(table: str, cid: int, voucher: int | None = None, quotas=()) -> dict[str, int]:
    """One client's counters and quota ("u<id>", "d<id>", "q<id>"), its voucher's quota
    ("v<voucher>") if given, and the named `quotas` that exist (the plan guard's "g_<level>"),
    reading only those chains and quotas: what a portal request costs does not grow with the number
    of clients."""
    result: dict[str, int] = {}

    def parse(buf, start, end):
        found = _rule_counter(buf, start, end)
        if found:
            result[found[0]] = found[1]

    for chain in chain_names(cid):
        _dump(_NFT_MSG_GETRULE, _attr(_NFTA_RULE_TABLE, table.encode() + b"\0")
              + _attr(_NFTA_RULE_CHAIN, chain.encode() + b"\0"), parse)
    names = [quota_name(cid)] + ([] if voucher is None else [voucher_quota_name(voucher)]) + list(quotas)
    for name in names:
        attrs = _attr(_NFTA_OBJ_TABLE, table.encode() + b"\0")
        attrs += _attr(_NFTA_OBJ_NAME, name.encode() + b"\0")
        attrs += _attr(_NFTA_OBJ_TYPE, struct.pack(">I", _NFT_OBJECT_QUOTA))
        _dump(_NFT_MSG_GETOBJ, attrs, lambda buf, a, b: _parse_quota(buf, a, b, result), flags=_NLM_F_ACK)
    return result


def counter_key(chain: str) -> str | None:
    """The name hotspot gives the counter in a chain's last rule: up5 -> u5, download -> d1."""
    if chain in ("upload", "download"):
        return f"{chain[0]}{UNREGISTERED}"
    for prefix in ("up", "down"):
        if chain.startswith(prefix) and chain[len(prefix):].isdigit():
            return f"{prefix[0]}{chain[len(prefix):]}"
    return None


_KEYS: dict[bytes, str | None] = {}  # chain name -> counter name, for the parser below


def _rule_counter(buf: bytes, pos: int, end: int) -> tuple[str, int] | None:
    """(counter name, bytes) from one rule's attributes, if it is a counter rule of ours. This runs
    for every client at every poll, so rather than walk each expression it finds the counter's name
    and reads the bytes attribute at the head of the data that follows it (7x faster, same result)."""
    at = buf.find(b"counter\0", pos, end)  # NFTA_EXPR_NAME, then NFTA_EXPR_DATA
    if at < 0 or at + 12 > end:
        return None
    chain = exprs_end = None
    nla = _NLA.unpack_from
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return None
        kind &= 0x3FFF
        if kind == _NFTA_RULE_CHAIN:
            chain = buf[pos + 4:pos + length - 1]
        elif kind == _NFTA_RULE_EXPRESSIONS:
            if not pos < at < pos + length:
                return None
            exprs_end = pos + length
        pos += (length + 3) & ~3
    if chain is None or exprs_end is None:
        return None
    key = _KEYS.get(chain)
    if key is None:
        key = _KEYS[chain] = counter_key(chain.decode())
        if key is None:
            return None
    data_len, data_kind = nla(buf, at + 8)
    if data_kind & 0x3FFF != _NFTA_EXPR_DATA:
        return None
    pos, end = at + 12, min(at + 8 + data_len, exprs_end)
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return None
        if kind & 0x3FFF == _NFTA_COUNTER_BYTES:
            return key, _BE64.unpack_from(buf, pos + 4)[0]
        pos += (length + 3) & ~3
    return None


def app_counter_set(category: str, direction: str) -> str:
    """The kernel set whose elements count a category's bytes per client: cu_video, cd_video."""
    return f"c{direction[0]}_{category}"


_NFT_MSG_GETSETELEM = 13
_NFTA_SET_ELEM_LIST_TABLE, _NFTA_SET_ELEM_LIST_SET, _NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
_NFTA_SET_ELEM_KEY, _NFTA_SET_ELEM_EXPR, _NFTA_SET_ELEM_EXPRESSIONS = 1, 7, 11


def dump_app_counters(table: str) -> dict[tuple[str, str], dict[int, int]]:
    """{(category, "up"/"down"): {masked conntrack mark: bytes}} from the per-category counting sets;
    one netlink dump per set (libnftables' JSON would take seconds at thousands of elements)."""
    result: dict[tuple[str, str], dict[int, int]] = {}
    for cat in CATEGORIES:
        for direction in ("up", "down"):
            found = result[(cat, direction)] = {}
            attrs = _attr(_NFTA_SET_ELEM_LIST_TABLE, table.encode() + b"\0")
            attrs += _attr(_NFTA_SET_ELEM_LIST_SET, app_counter_set(cat, direction).encode() + b"\0")
            _dump(_NFT_MSG_GETSETELEM, attrs, lambda buf, a, b, found=found: _parse_elems(buf, a, b, found))
    return result


def dump_set_counters(table: str, name: str, what: str = "counter") -> dict[bytes, int]:
    """{key as the kernel holds it: bytes} of a set whose elements have a counter (or, with what
    "quota", a quota: the bytes it consumed)."""
    found: dict[bytes, int] = {}
    attrs = _attr(_NFTA_SET_ELEM_LIST_TABLE, table.encode() + b"\0")
    attrs += _attr(_NFTA_SET_ELEM_LIST_SET, name.encode() + b"\0")
    _dump(_NFT_MSG_GETSETELEM, attrs, lambda buf, a, b: _parse_elems(buf, a, b, found, raw=True, what=what))
    return found


_STATEFUL = {"counter": (b"counter", _NFTA_COUNTER_BYTES), "quota": (b"quota", _NFTA_QUOTA_CONSUMED)}


def _parse_elems(buf: bytes, start: int, end: int, out: dict, raw: bool = False,
                 what: str = "counter") -> None:
    """One GETSETELEM answer: each element's key (a 32-bit one as a number, or with `raw` its
    bytes) and its counter's bytes (or its quota's consumed bytes)."""
    for kind, a, b in _attrs(buf, start, end):
        if kind != _NFTA_SET_ELEM_LIST_ELEMENTS:
            continue
        for _, ea, eb in _attrs(buf, a, b):  # NFTA_LIST_ELEM
            key = nbytes = None
            for k, xa, xb in _attrs(buf, ea, eb):
                if k == _NFTA_SET_ELEM_KEY:
                    for _, va, vb in _attrs(buf, xa, xb):  # NFTA_DATA_VALUE: host byte order
                        key = bytes(buf[va:vb]) if raw else struct.unpack_from("=I", buf, va)[0]
                elif k in (_NFTA_SET_ELEM_EXPR, _NFTA_SET_ELEM_EXPRESSIONS):
                    nbytes = _counter_bytes(buf, xa, xb, k == _NFTA_SET_ELEM_EXPRESSIONS, *_STATEFUL[what])
            if key is not None and nbytes is not None:
                out[key] = nbytes


def _counter_bytes(buf: bytes, start: int, end: int, listed: bool, expr: bytes = b"counter",
                   field: int = _NFTA_COUNTER_BYTES) -> int | None:
    """The bytes of a counter expression (or of the first counter in a list of expressions); with
    `expr` and `field`, another attribute of another expression (a quota's consumed bytes)."""
    if listed:
        for _, a, b in _attrs(buf, start, end):
            found = _counter_bytes(buf, a, b, False, expr, field)
            if found is not None:
                return found
        return None
    name = data = None
    for k, a, b in _attrs(buf, start, end):
        if k == _NFTA_EXPR_NAME:
            name = bytes(buf[a:b]).rstrip(b"\0")
        elif k == _NFTA_EXPR_DATA:
            data = (a, b)
    if name != expr or data is None:
        return None
    for k, a, _b in _attrs(buf, *data):
        if k == field:
            return _BE64.unpack_from(buf, a)[0]
    return None


def table_handle(table: str) -> int | None:
    found: list[int] = []

    def parse(buf, start, end):
        name = handle = None
        for kind, a, b in _attrs(buf, start, end):
            if kind == _NFTA_TABLE_NAME:
                name = bytes(buf[a:b]).rstrip(b"\0").decode()
            elif kind == _NFTA_TABLE_HANDLE:
                (handle,) = struct.unpack_from(">Q", buf, a)
        if name == table and handle is not None:
            found.append(handle)

    _dump(_NFT_MSG_GETTABLE, b"", parse)
    return found[0] if found else None


_NLA = struct.Struct("=HH")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")


def _parse_quota(buf: bytes, pos: int, end: int, out: dict[str, int]) -> None:
    """One quota object's attributes; an inline loop, as this runs for every capped client."""
    name, obj_type, data = None, 0, None
    nla = _NLA.unpack_from
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return
        kind &= 0x3FFF
        if kind == _NFTA_OBJ_NAME:
            name = bytes(buf[pos + 4:pos + length - 1]).decode()  # NUL-terminated
        elif kind == _NFTA_OBJ_TYPE:
            obj_type = _BE32.unpack_from(buf, pos + 4)[0]
        elif kind == _NFTA_OBJ_DATA:
            data = (pos + 4, pos + length)
        pos += (length + 3) & ~3
    if name is None or data is None or obj_type != _NFT_OBJECT_QUOTA:
        return
    pos, end = data
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return
        if kind & 0x3FFF == _NFTA_QUOTA_CONSUMED:
            out[name] = _BE64.unpack_from(buf, pos + 4)[0]
            return
        pos += (length + 3) & ~3


# -- netlink: notifications ---------------------------------------------------------------------

_NFNLGRP_NFTABLES = 7
_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP = 270, 1
_NFT_MSG_DELTABLE, _NFT_MSG_DELRULE, _NFT_MSG_NEWGEN = 2, 8, 15
_WATCH_BUFFER = 64 << 20  # a flush of 5,000 clients notifies ~35,000 deletions (rules, chains, objects)


@dataclass(frozen=True)
class TableGone:
    """Our table was deleted (`nft flush ruleset`, an fw4 reload that took it, teardown). `counters`
    holds each counter's value at that instant, from the kernel's own notification, so the bytes
    counted since the last poll are not lost with it. handle None: notifications were lost."""

    handle: int | None
    counters: dict[str, int]


class TableWatch:
    """Listens to nftables' notifications for the deletion of our table, so hotspotd rebuilds it in
    milliseconds rather than at the next poll. Hand-written like the dump above: it must skim tens
    of thousands of notifications per flush, and it shares that parser."""

    def __init__(self, table: str = TABLE) -> None:
        self.table = table.encode()
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK,
                                  _NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, _WATCH_BUFFER)  # SO_RCVBUFFORCE (root)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _WATCH_BUFFER)
        self.sock.bind((0, 0))
        self.sock.setsockopt(_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP, _NFNLGRP_NFTABLES)
        self._counters: dict[str, int] = {}  # counters deleted in the transaction being read
        self._gone: int | None = None  # our table's handle, if this transaction deleted it

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def read(self) -> list[TableGone]:
        """Every deletion of our table notified since the last read (without blocking)."""
        found: list[TableGone] = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return found
            except OSError as e:  # ENOBUFS: the kernel dropped notifications; the caller must look
                if e.errno != 105:
                    raise
                self._counters, self._gone = {}, None
                found.append(TableGone(None, {}))
                continue
            for kind, body, end in _messages(data):
                if kind >> 8 == _NFNL_SUBSYS_NFTABLES and body + 4 <= end:
                    self._message(kind & 0xFF, data, body + 4, end, found)

    def _message(self, msg: int, buf: bytes, start: int, end: int, found: list[TableGone]) -> None:
        if msg == _NFT_MSG_DELRULE and buf[start - 4] == _NFPROTO_INET:
            table = None
            for kind, a, b in _attrs(buf, start, end):
                if kind == _NFTA_RULE_TABLE:
                    table = bytes(buf[a:b]).rstrip(b"\0")
                    break
            counted = _rule_counter(buf, start, end) if table == self.table else None
            if counted:
                self._counters[counted[0]] = counted[1]
        elif msg == _NFT_MSG_DELTABLE and buf[start - 4] == _NFPROTO_INET:
            name = handle = None
            for kind, a, b in _attrs(buf, start, end):
                if kind == _NFTA_TABLE_NAME:
                    name = bytes(buf[a:b]).rstrip(b"\0")
                elif kind == _NFTA_TABLE_HANDLE:
                    (handle,) = struct.unpack_from(">Q", buf, a)
            if name == self.table:
                self._gone = handle
        elif msg == _NFT_MSG_NEWGEN:  # the end of a transaction
            if self._gone is not None:
                found.append(TableGone(self._gone, self._counters))
            self._counters, self._gone = {}, None
