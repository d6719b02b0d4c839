"""What the kernel holds for hotspot, as pure data: names, rules and python-nftables JSON commands.

No I/O and no nftables context: every function here maps values to JSON, so it is checked without root
(tests/unit/kernel/test_rules.py) and no value from a user, a DHCP lease or the config is ever pasted
into nft syntax. kernel/nft.py sends what this builds.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from hotspot.apps.categories import CATEGORIES

FAMILY = "inet"
TABLE = "hotspot"
UNREGISTERED = 1  # client id of traffic from MACs not registered yet
ROUTER = 0  # "client" id of the router's own traffic over a metered uplink (chains up0, down0)
_NEVER = 2**62  # the point of a guard level that is off for now (configured only while roaming)
DEFAULT_MARK_MASK = 0xFFFF0000  # leaves the low 16 bits (mwan3's 0x3F00, qosify, ...) to others


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
    ask: int | None = None  # the point (bytes this period) where its ask quota "a<id>" holds it


GUARD_CLASS = "1:2"  # the HTB class the plan guard's throttle shares (client id 1 has no classes)
APP_GUARD_CLASS = "1:3"  # the update guard's shared throttle class (client id 1's other minor)
GUARD_LEVELS = ("throttle", "block", "stop")
GUARD_CHAINS = ("guard_up", "guard_down")  # the guard's rules once, for chains that jump there


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


# -- names ----------------------------------------------------------------------------------------


def counter_names(cid: int) -> tuple[str, str]:
    return f"u{cid}", f"d{cid}"


def quota_name(cid: int) -> str:
    return f"q{cid}"


def voucher_quota_name(vid: int) -> str:
    return f"v{vid}"


def ask_quota_name(cid: int) -> str:
    return f"a{cid}"


def guard_quota_name(level: str) -> str:
    return f"g_{level}"


def chain_names(cid: int) -> tuple[str, str]:
    return f"up{cid}", f"down{cid}"


def counter_key(chain: str) -> str | None:
    """The name hotspot gives the counter in a chain's last rule: up5 -> u5, download -> d1."""
    if chain in ("upload", "download"):
        return f"{chain[0]}{UNREGISTERED}"
    for prefix in ("up", "down"):
        if chain.startswith(prefix) and chain[len(prefix):].isdigit():
            return f"{prefix[0]}{chain[len(prefix):]}"
    return None


def app_counter_set(category: str, direction: str) -> str:
    """The kernel set whose elements count a category's bytes per client: cu_video, cd_video."""
    return f"c{direction[0]}_{category}"


# -- JSON pieces ----------------------------------------------------------------------------------


def obj(kind: str, name: str, **extra) -> dict:
    """An object of our table (a chain, a quota...) as a command's argument."""
    return {kind: {"family": FAMILY, "table": TABLE, "name": name, **extra}}


def elem(name: str, elems: list) -> dict:
    """Elements of one of our sets or maps."""
    return {"element": {"family": FAMILY, "table": TABLE, "name": name, "elem": elems}}


def rule(chain: str, expr: list) -> dict:
    return {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "expr": expr}}


def rule_at(chain: str, handle: int, expr: list | None = None) -> dict:
    """A rule by handle: to delete it, or (with expr) to insert a new rule just before it."""
    ref = {"family": FAMILY, "table": TABLE, "chain": chain, "handle": handle}
    return {"rule": {**ref, "expr": expr} if expr is not None else ref}


def _goto(chain: str) -> dict:
    return {"goto": {"target": chain}}


def _jump(chain: str) -> dict:
    return {"jump": {"target": chain}}


def _priority(classid: str) -> dict:
    return {"mangle": {"key": {"meta": {"key": "priority"}}, "value": classid}}


_DROP = {"drop": None}
_GATE = _goto("gate")
_TO_PORTAL = _goto("portal")
_PASS = {"accept": None}
_COUNTER = {"counter": {"packets": 0, "bytes": 0}}
_CAT_UP, _CAT_DOWN = _goto("cat_up"), _goto("cat_down")  # the app categories (nft/hotspot.nft)


def _guard_quota(point: int | None, base: int) -> dict:
    """A guard quota counting from `base` (the plan's bytes when it was made) to `point`; a level
    that is off for now (configured only while roaming) waits at a point no plan reaches."""
    return {"bytes": _NEVER if point is None else max(0, point - base), "used": 0, "inv": True}


def _new_quota(c: ClientElements) -> dict:
    """A client's quota, seeded with what it used: the kernel refuses `used` above the limit (a cap
    set below this period's usage), and a full quota already drops or reclassifies the next packet."""
    return obj("quota", quota_name(c.id), bytes=c.quota, used=min(c.used, c.quota), inv=True)


def _new_ask_quota(c: ClientElements) -> dict:
    """A client's ask quota, seeded with what it used: it holds the device from the byte that crosses
    its ask point, as a cap's quota drops it, with no poll in between."""
    return obj("quota", ask_quota_name(c.id), bytes=c.ask, used=min(c.used, c.ask), inv=True)


def _new_voucher_quota(c: ClientElements) -> dict:
    """A voucher's quota, shared by its devices. Adding it again when it exists (a second device)
    keeps what it consumed: the kernel updates only the limit of an existing quota."""
    return obj("quota", voucher_quota_name(c.voucher), bytes=c.voucher_quota,
               used=min(c.voucher_used, c.voucher_quota), inv=True)


# -- a client's chains and verdicts ---------------------------------------------------------------


def http_verdict(portal: bool) -> dict:
    """A client's verdict in the `http` map. Only the clients whose plain HTTP goes to the portal
    have an element there (most need none): the others' HTTP goes on its way."""
    if not portal:
        raise ValueError("a client whose HTTP goes on its way has no element in http")
    return _TO_PORTAL


def free_verdict(c: ClientElements) -> dict:
    """A client's verdict in the `free` map: an unmetered uplink holds back only the blocked and the
    gated."""
    return _GATE if c.blocked or c.gated else _PASS


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
    256 kbit/s, nor does a client's 50 Mbit/s escape the guard). A client that sets no class of
    its own (most) meets the guard's rules in the same order in a shared chain it jumps to
    (guard_up, guard_down): one rule in its chain instead of three, which halves what a rebuild
    loads and a poll dumps with the guard on (tests/bench/plainexp.py)."""
    set_id = {"mangle": {"key": {"ct": {"key": "mark"}},
                         "value": {"|": [{"&": [{"ct": {"key": "mark"}}, marks.keep]}, marks.value(c.id)]}}}
    chains = []
    # The counter comes first: `ct mark set` reads the mark, which breaks the rule for a packet without
    # a conntrack entry, and that packet must still be counted. The counter rule ends in the app
    # categories' chain of its direction (nft/hotspot.nft): only what the chain let through gets there.
    for counter, hold, remote in (([_COUNTER, set_id, _CAT_UP], _GATE, "daddr"),
                                  ([_COUNTER, _CAT_DOWN], _DROP, "saddr")):
        rules: list[list] = []
        if c.blocked:
            rules.append([_DROP])
        elif c.gated:
            rules.append([hold])
        else:
            drops, setters = _dest_drops(c.blocked_dests, remote), []
            if c.ask is not None:  # held at its ask point: up to the gate, like a device not admitted
                drops.append([{"quota": ask_quota_name(c.id)}, hold])
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
            app = app_guard_rules(c.app_guard, "daddr" if hold is _GATE else "saddr",
                                  hold if c.app_guard_rate is None else _priority(APP_GUARD_CLASS))
            if c.app_guard_rate is None:
                drops += app
            else:
                setters += [(c.app_guard_rate, r) for r in app]
            if guard.levels and not setters and not c.exempt:
                # The guard's rules in order are the whole rest: its shared chain does the same.
                rules += drops + [[_jump(GUARD_CHAINS[hold is _DROP])]]
            else:
                guard_drops, guard_setters = guard.rules(exempt=c.exempt, hold=hold)
                setters += guard_setters
                rules += drops + guard_drops + [r for _, r in sorted(setters, key=lambda s: -s[0])]
        chains.append(rules + [counter])
    return chains[0], chains[1]


def guard_chain_rules(guard: Guard) -> tuple[list[list], list[list]]:
    """The rules of guard_up and guard_down (nft/hotspot.nft): the plan guard as a client with no
    throttle of its own meets it, drops first, then the shared throttle class."""
    chains = []
    for hold in (_GATE, _DROP):
        drops, setters = guard.rules(exempt=False, hold=hold)
        chains.append(drops + [r for _, r in sorted(setters, key=lambda s: -s[0])])
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


# -- commands: the table's frame --------------------------------------------------------------------


def interface_cmds(lan: list[str], wan: list[str], free: list[str] = ()) -> list[dict]:
    """Which devices are the LAN, the metered uplinks and the free ones, replacing what was there."""
    paths = [[{"concat": [a, b]}, _goto(chain)]
             for l_ in lan for w in wan for a, b, chain in ((l_, w, "upload"), (w, l_, "download"))]
    paths += [[{"concat": [l_, f]}, _goto("free_upload")] for l_ in lan for f in free]
    cmds = [{"flush": {"map": {"family": FAMILY, "table": TABLE, "name": "paths"}}},
            {"add": elem("paths", paths)}]
    for name, items in (("lan_ifaces", lan), ("wan_ifaces", wan)):
        cmds += [{"flush": {"set": {"family": FAMILY, "table": TABLE, "name": name}}},
                 {"add": elem(name, list(dict.fromkeys(items)))}]
    return cmds


def gate_unregistered_cmds() -> list[dict]:
    """Auth click or voucher: MACs not registered yet are noted and gated, their plain HTTP goes to
    the portal, and on a free uplink too they meet the gate."""
    ether_saddr = {"payload": {"protocol": "ether", "field": "saddr"}}
    not_registered = {"match": {"op": "!=", "left": ether_saddr, "right": "@client_up"}}
    return [{"add": rule("unregistered", [{"set": {"op": "add", "elem": ether_saddr, "set": "@unknown"}},
                                          _GATE])},
            {"add": rule("captive_http", [not_registered, _TO_PORTAL])},
            {"add": rule("free_upload", [_GATE])}]


# How many rules end upload and download counting devices not registered yet (nft/hotspot.nft): the
# default cap's rules and the plan guard's go before them.
TAIL = {"upload": 2, "download": 3}


def guard_cmds(guard: Guard, limits: dict[str, int], base: int, tails: dict[str, int],
               cap: int | None = None) -> list[dict]:
    """The guard's quotas, the default cap's and the guard's rules in the unregistered chains, each
    inserted before the rule `tails[chain]` (the first of its TAIL: what they drop counts nowhere),
    the guard's shared chains (guard_up, guard_down) and the router's own chains."""
    cmds = [{"add": obj("quota", guard_quota_name(level), **_guard_quota(limits.get(level), base))}
            for level in guard.levels]
    for chain, hold in (("upload", _GATE), ("download", _DROP)):
        drops, setters = guard.rules(exempt=False, hold=hold)
        rules = [] if cap is None else unregistered_cap_rules(cap, chain)
        rules += drops + [r for _, r in sorted(setters, key=lambda x: -x[0])]
        cmds += [{"insert": rule_at(chain, tails[chain], expr)} for expr in rules]
    for chain, rules in zip(GUARD_CHAINS, guard_chain_rules(guard)):
        cmds += [{"add": rule(chain, expr)} for expr in rules]
    for chain, categories in zip(chain_names(ROUTER), (_CAT_UP, _CAT_DOWN)):
        cmds.append({"add": obj("chain", chain)})
        cmds += [{"add": rule(chain, expr)} for expr in router_rules(guard, categories)]
    return cmds


def guard_limit_cmds(guard: Guard, limits: dict[str, int | None], base: int) -> list[dict]:
    """Each guard quota starts again from zero and allows what is left from `base` to its point."""
    cmds = []
    for level in guard.levels:
        cmds += [{"reset": obj("quota", guard_quota_name(level))},
                 {"add": obj("quota", guard_quota_name(level), **_guard_quota(limits.get(level), base))}]
    return cmds


# -- commands: clients ------------------------------------------------------------------------------


def new_clients_cmds(clients: list[ClientElements], marks: Marks, guard: Guard) -> list[dict]:
    """One transaction that adds clients: their voucher's quota and their own (before the rules that
    name them), their chains, and their elements in the maps that lead to the chains."""
    cmds: list[dict] = []
    vouchers = {c.voucher: c for c in clients if c.voucher is not None and c.voucher_quota is not None}
    cmds += [{"add": _new_voucher_quota(c)} for c in vouchers.values()]
    for c in clients:
        if c.quota is not None:
            cmds.append({"add": _new_quota(c)})
        if c.ask is not None:
            cmds.append({"add": _new_ask_quota(c)})
        for chain, rules in zip(chain_names(c.id), client_rules(c, marks, guard)):
            cmds.append({"add": obj("chain", chain)})
            cmds += [{"add": rule(chain, expr)} for expr in rules]
    cmds += [
        {"add": elem("client_up", [[c.mac, _goto(chain_names(c.id)[0])] for c in clients])},
        {"add": elem("client_up_mark", [[marks.value(c.id), _goto(chain_names(c.id)[0])] for c in clients])},
        {"add": elem("client_down", [[marks.value(c.id), _goto(chain_names(c.id)[1])] for c in clients])},
        {"add": elem("free", [[c.mac, free_verdict(c)] for c in clients])},
    ]
    cmds += http_cmds([(c.mac, True) for c in clients if c.portal])
    return cmds + address_cmds("add", [(ip, c.id) for c in clients for ip in c.ips])


def _requota(c: ClientElements, was: ClientElements) -> bool:
    """The client's cap changed (both before and after it has one)."""
    return c.quota is not None and was.quota is not None and c.quota != was.quota


def _reask(c: ClientElements, was: ClientElements) -> bool:
    """The client's ask point moved (it has one before and after)."""
    return c.ask is not None and was.ask is not None and c.ask != was.ask


def policy_needs_handles(c: ClientElements, was: ClientElements, marks: Marks, guard: Guard) -> bool:
    """Whether moving a client from `was` to `c` rewrites its chains' rules, for which policy_cmds
    needs their handles."""
    return (client_rules(c, marks, guard) != client_rules(was, marks, guard) or _requota(c, was)
            or _reask(c, was))


def policy_cmds(c: ClientElements, *, was: ClientElements, marks: Marks, guard: Guard,
                handles: dict[str, list[int]] | None = None) -> list[dict]:
    """Move one client's kernel state from `was` to `c`. The policy rules of its chains are replaced
    (`handles`: each chain's rule handles, the counter rule's last) if its policy changed; its
    counters carry on. A cap that changes (a top-up) makes its quota anew, seeded with the bytes
    delivered (`c.used`): the old one also counted the packets it dropped, and keeping them would
    give the client less than it was given. The rules that name the quota go first and come back
    after, in the same transaction."""
    cmds: list[dict] = []
    q = quota_name(c.id)
    requota = _requota(c, was) and handles is not None
    if c.quota is not None and was.quota is None:
        cmds.append({"add": _new_quota(c)})
    elif _requota(c, was) and not requota:
        # Re-adding an existing quota changes its limit but keeps what it has consumed.
        cmds.append({"add": obj("quota", q, bytes=c.quota, inv=True)})
    reask = _reask(c, was) and handles is not None
    if c.ask is not None and was.ask is None:
        cmds.append({"add": _new_ask_quota(c)})
    elif _reask(c, was) and not reask:
        cmds.append({"add": obj("quota", ask_quota_name(c.id), bytes=c.ask, inv=True)})
    if c.voucher is not None and c.voucher_quota is not None and (
            (c.voucher, c.voucher_quota) != (was.voucher, was.voucher_quota)):
        cmds.append({"add": _new_voucher_quota(c)})  # the first device creates it, others share it
    new = client_rules(c, marks, guard)
    if handles is not None and (new != client_rules(was, marks, guard) or requota or reask):
        for chain in chain_names(c.id):
            cmds += [{"delete": rule_at(chain, h)} for h in handles[chain][:-1]]
        if requota:
            cmds += [{"delete": obj("quota", q)}, {"add": _new_quota(c)}]
        if reask:  # anew, seeded with the bytes delivered: the old one counted what it held back
            cmds += [{"delete": obj("quota", ask_quota_name(c.id))}, {"add": _new_ask_quota(c)}]
        for chain, rules in zip(chain_names(c.id), new):
            cmds += [{"insert": rule_at(chain, handles[chain][-1], expr)} for expr in rules[:-1]]
    if c.quota is None and was.quota is not None:
        cmds.append({"delete": obj("quota", q)})  # after the rules that used it are gone
    if c.ask is None and was.ask is not None:
        cmds.append({"delete": obj("quota", ask_quota_name(c.id))})
    if c.portal != was.portal:
        cmds += http_cmds([(c.mac, c.portal)])
    if free_verdict(c) != free_verdict(was):  # a map element's verdict is replaced, not changed
        cmds += [{"delete": elem("free", [c.mac])}, {"add": elem("free", [[c.mac, free_verdict(c)]])}]
    cmds += address_cmds("delete", [(ip, c.id) for ip in was.ips if ip not in c.ips])
    cmds += address_cmds("add", [(ip, c.id) for ip in c.ips if ip not in was.ips])
    return cmds


def address_cmds(op: str, owned: list[tuple[str, int]]) -> list[dict]:
    """Add or delete addr4/addr6 elements for (address, client id) pairs."""
    cmds = []
    for name, v6 in (("addr4", False), ("addr6", True)):
        elems = [[ip, _goto(chain_names(cid)[1])] if op == "add" else ip
                 for ip, cid in owned if (":" in ip) == v6]
        if elems:
            cmds.append({op: elem(name, elems)})
    return cmds


def http_cmds(clients: list[tuple[str, bool]]) -> list[dict]:
    """Send each (MAC, portal) client's plain HTTP to the portal (an element in `http`) or on its
    way (none), whatever it did before: every one is added (adding one there already is no error),
    and those that go on their way deleted again, in the same transaction."""
    if not clients:
        return []
    cmds = [{"add": elem("http", [[mac, _TO_PORTAL] for mac, _ in clients])}]
    passing = [mac for mac, portal in clients if not portal]
    return cmds + ([{"delete": elem("http", passing)}] if passing else [])


def unlink_cmds(clients: list[ClientElements], marks: Marks) -> list[dict]:
    """Take clients out of every map that reaches their chains (`client_up` by MAC, `client_up_mark`
    and `client_down` by conntrack mark, `addr4`/`addr6` by address) and out of `http` and `free`."""
    cmds = [{"delete": elem("client_up", [c.mac for c in clients])},
            {"delete": elem("client_up_mark", [marks.value(c.id) for c in clients])},
            {"delete": elem("client_down", [marks.value(c.id) for c in clients])},
            *http_cmds([(c.mac, False) for c in clients]),
            {"delete": elem("free", [c.mac for c in clients])}]
    return cmds + address_cmds("delete", [(ip, c.id) for c in clients for ip in c.ips])


def drop_cmds(clients: list[ClientElements]) -> list[dict]:
    """Delete unlinked clients' chains and quotas."""
    cmds = [{"delete": obj("chain", name)} for c in clients for name in chain_names(c.id)]
    cmds += [{"delete": obj("quota", ask_quota_name(c.id))} for c in clients if c.ask is not None]
    return cmds + [{"delete": obj("quota", quota_name(c.id))} for c in clients if c.quota is not None]


# -- devices not registered yet -------------------------------------------------------------------


def unregistered_cap_rules(cap: int, chain: str) -> list[list]:
    """default_cap for devices not registered yet, in upload or download: a quota per device
    address (nft/hotspot.nft, unreg_cap4/6), which drops the packet that would cross the cap."""
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
            cmds.append({op: elem(name, sorted(set(items)))})
    return cmds


def release_holds_cmds() -> list[dict]:
    """Empty the sets that hold unregistered devices (a hold a crash left behind)."""
    return [{"flush": {"set": {"family": FAMILY, "table": TABLE, "name": name}}}
            for name in ("unreg_hold", "unreg_hold4", "unreg_hold6")]


def forget_unregistered_cmds(macs: list[str], addrs: list[str]) -> list[dict]:
    """Delete the elements of devices whose bytes were credited: their counters and cap quotas."""
    cmds = []
    v4, v6 = sorted({a for a in addrs if ":" not in a}), sorted({a for a in addrs if ":" in a})
    for name, items in (("unreg_up", sorted(set(macs))), ("unreg_down4", v4), ("unreg_cap4", v4),
                        ("unreg_down6", v6), ("unreg_cap6", v6)):
        if items:
            cmds.append({"delete": elem(name, items)})
    return cmds


# -- app categories: addresses the DNS snooper saw ------------------------------------------------


def category_address_text(entries: list[tuple[str, str, int, int]]) -> str:
    """The nft text of Nft.add_category_addresses: text costs libnftables about two thirds of the
    same commands as JSON (tests/bench/snoop.py, the snooper's fresh addresses). Made only from
    parsed values: each address parsed and spelt again by the C library, whole seconds, set names
    from CATEGORIES; a bad entry raises ValueError and nothing is sent (a name never gets here)."""
    by_set: dict[str, dict[str, str]] = {}
    for category, address, ttl, left in entries:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        family = socket.AF_INET6 if isinstance(address, str) and ":" in address else socket.AF_INET
        try:
            addr = socket.inet_ntop(family, socket.inet_pton(family, address))
        except (OSError, TypeError):
            raise ValueError(f"not an IP address: {address!r}") from None
        ttl, left = int(ttl), int(left)
        if not 1 <= left <= ttl:
            raise ValueError(f"expiry {left} s is not between 1 s and the timeout ({ttl} s)")
        version = 6 if family == socket.AF_INET6 else 4
        for name in (f"c{version}_{category}", f"c{version}_any"):
            by_set.setdefault(name, {})[addr] = f"{addr} timeout {ttl}s expires {left}s"
    lines = []
    for name, elems in by_set.items():
        fresh = f"add element {FAMILY} {TABLE} {name} {{ {', '.join(elems.values())} }}"
        lines += [fresh, f"delete element {FAMILY} {TABLE} {name} {{ {', '.join(elems)} }}", fresh]
    return "\n".join(lines)


# -- nft text for a whole batch of new clients ---------------------------------------------------------
#
# Adding thousands of clients (the table's build, and its rebuild after `nft flush ruleset`) as nft
# text costs libnftables about half the CPU of the same commands as JSON, and one transaction instead
# of one per chunk spares the kernel validating the growing table again at each commit. The text is
# written here, from the same statement lists client_rules builds, and only from typed values our own
# code formatted: integers, a MAC and addresses parsed and formatted again, class ids and names made
# from integers, set names from CATEGORIES. Anything else raises ValueError before nft sees a byte; a
# hostname or any other string from a user never gets here (ClientElements holds none).

_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", re.ASCII)
_CLASSID = re.compile(r"[0-9a-f]{1,4}:[0-9a-f]{1,4}", re.ASCII)
_SETS = {f"c{family}_{cat}" for family in (4, 6) for cat in CATEGORIES}
_TARGETS = {"gate", "portal", "cat_up", "cat_down"}
_JUMP_TARGETS = set(GUARD_CHAINS)
_PROTOCOLS = {("ip", "saddr"), ("ip", "daddr"), ("ip6", "saddr"), ("ip6", "daddr")}


def mac_text(mac: str) -> str:
    """A MAC as nft writes it, from its parsed bytes."""
    if not isinstance(mac, str) or not _MAC.fullmatch(mac):
        raise ValueError(f"not a MAC address: {mac!r}")
    return ":".join(f"{int(b, 16):02x}" for b in mac.split(":"))


def _int(value) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"not a count: {value!r}")
    return value


def _target(verdict: dict) -> str:
    """`goto CHAIN` for one of our chains (a client's, or a fixed one)."""
    chain = verdict["goto"]["target"]
    if chain not in _TARGETS and counter_key(chain) is None:
        raise ValueError(f"not one of hotspot's chains: {chain!r}")
    return f"goto {chain}"


def _quota_ref(name) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[qva][0-9]+|g_(throttle|block|stop)", name, re.ASCII):
        raise ValueError(f"not one of hotspot's quotas: {name!r}")
    return f'quota name "{name}"'


def _match_text(m: dict) -> str:
    payload = m["left"]["payload"]
    where = (payload["protocol"], payload["field"])
    if m["op"] != "==" or where not in _PROTOCOLS:
        raise ValueError(f"not a match hotspot writes: {m!r}")
    right = m["right"]
    if isinstance(right, str):
        if right[1:] not in _SETS or right[0] != "@":
            raise ValueError(f"not one of hotspot's sets: {right!r}")
        return f"{where[0]} {where[1]} {right}"
    addrs = [ipaddress.ip_address(a) for a in right["set"]]
    if any((a.version == 6) != (where[0] == "ip6") for a in addrs):
        raise ValueError(f"an address of the wrong family for {where[0]}: {right!r}")
    return f"{where[0]} {where[1]} {{ {', '.join(str(a) for a in addrs)} }}"


def _mangle_text(m: dict) -> str:
    key, value = m["key"], m["value"]
    if key == {"meta": {"key": "priority"}}:
        if not isinstance(value, str) or not _CLASSID.fullmatch(value):
            raise ValueError(f"not a tc class id: {value!r}")
        return f"meta priority set {value}"
    if key == {"ct": {"key": "mark"}}:
        (inner, bits), = [value["|"]]
        (mark, keep), = [inner["&"]]
        if mark != key:
            raise ValueError(f"not a mark hotspot writes: {value!r}")
        return f"ct mark set ct mark and {_int(keep):#x} or {_int(bits):#x}"
    raise ValueError(f"not a statement hotspot writes: {m!r}")


def stmt_text(s: dict) -> str:
    """One statement of client_rules as nft text."""
    if len(s) != 1:
        raise ValueError(f"not a statement: {s!r}")
    (kind, arg), = s.items()
    if kind in ("drop", "accept") and arg is None:
        return kind
    if kind == "goto":
        return _target(s)
    if kind == "jump":
        if arg["target"] not in _JUMP_TARGETS:
            raise ValueError(f"not a chain hotspot jumps to: {arg!r}")
        return f"jump {arg['target']}"
    if kind == "counter":
        return f"counter packets {_int(arg['packets'])} bytes {_int(arg['bytes'])}"
    if kind == "quota":
        return _quota_ref(arg)
    if kind == "match":
        return _match_text(arg)
    if kind == "mangle":
        return _mangle_text(arg)
    raise ValueError(f"not a statement hotspot writes: {s!r}")


def _quota_text(name: str, nbytes: int, used: int) -> str:
    return f"add quota {FAMILY} {TABLE} {name} {{ over {_int(nbytes)} bytes used {_int(used)} bytes }}\n"


def _elements_text(name: str, items: list[str]) -> str:
    return f"add element {FAMILY} {TABLE} {name} {{ {', '.join(items)} }}\n" if items else ""


def _verdict_text(v: dict) -> str:
    return stmt_text(v)


def new_clients_text(clients: list[ClientElements], marks: Marks, guard: Guard,
                     release: tuple[list[str], list[str]] = ([], [])) -> str:
    """new_clients_cmds as nft text: the same objects, rules and elements; `release`: (MACs,
    addresses) held while their bytes were read, let go in the same transaction (hold_cmds)."""
    out: list[str] = []
    vouchers = {c.voucher: c for c in clients if c.voucher is not None and c.voucher_quota is not None}
    for c in vouchers.values():
        out.append(_quota_text(voucher_quota_name(_int(c.voucher)), c.voucher_quota,
                               min(c.voucher_used, c.voucher_quota)))
    up, up_mark, down, http, free, addr4, addr6 = [], [], [], [], [], [], []
    for c in clients:
        cid, mac = _int(c.id), mac_text(c.mac)
        if c.quota is not None:
            out.append(_quota_text(quota_name(cid), c.quota, min(c.used, c.quota)))
        if c.ask is not None:
            out.append(_quota_text(ask_quota_name(cid), c.ask, min(c.used, c.ask)))
        for chain, rules in zip(chain_names(cid), client_rules(c, marks, guard)):
            out.append(f"add chain {FAMILY} {TABLE} {chain}\n")
            out += [f"add rule {FAMILY} {TABLE} {chain} {' '.join(stmt_text(s) for s in r)}\n" for r in rules]
        up.append(f"{mac} : goto {chain_names(cid)[0]}")
        up_mark.append(f"{_int(marks.value(cid)):#x} : goto {chain_names(cid)[0]}")
        down.append(f"{_int(marks.value(cid)):#x} : goto {chain_names(cid)[1]}")
        if c.portal:
            http.append(f"{mac} : goto portal")
        free.append(f"{mac} : {_verdict_text(free_verdict(c))}")
        for ip in map(ipaddress.ip_address, c.ips):
            (addr6 if ip.version == 6 else addr4).append(f"{ip} : goto {chain_names(cid)[1]}")
    for name, items in (("client_up", up), ("client_up_mark", up_mark), ("client_down", down),
                        ("http", http), ("free", free),
                        ("addr4", addr4), ("addr6", addr6)):
        out.append(_elements_text(name, items))
    macs, addrs = release
    held = [ipaddress.ip_address(a) for a in addrs]
    for name, items in (("unreg_hold", sorted({mac_text(m) for m in macs})),
                        ("unreg_hold4", sorted({str(a) for a in held if a.version == 4})),
                        ("unreg_hold6", sorted({str(a) for a in held if a.version == 6}))):
        if items:
            out.append(f"delete element {FAMILY} {TABLE} {name} {{ {', '.join(items)} }}\n")
    return "".join(out)
