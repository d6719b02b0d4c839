"""The only module that talks to nftables.

Writes go through python-nftables' JSON API in batches (one transaction each), so no value from a
user, a DHCP lease or the config is ever pasted into nft syntax. The hot read, every counter and
quota of every client at each poll, uses one netlink dump of the table's objects instead: libnftables
formats thousands of objects as JSON far too slowly for a router (see tests/bench).
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

FAMILY = "inet"
TABLE = "hotspot"
UNREGISTERED = 1  # client id of traffic from MACs not registered yet
RULESET = Path(os.environ.get("HOTSPOT_NFT", Path(__file__).resolve().parent.parent / "nft" / "hotspot.nft"))
if not RULESET.exists():  # installed layout (openwrt/): /usr/share/hotspot/hotspot.nft
    RULESET = Path("/usr/share/hotspot/hotspot.nft")


class NftError(RuntimeError):
    """nftables refused a command; the message is nft's own, on one line."""


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


def _obj(kind: str, name: str, **extra) -> dict:
    return {kind: {"family": FAMILY, "table": TABLE, "name": name, **extra}}


def _elem(name: str, elems: list) -> dict:
    return {"element": {"family": FAMILY, "table": TABLE, "name": name, "elem": elems}}


def counter_names(cid: int) -> tuple[str, str]:
    return f"u{cid}", f"d{cid}"


def quota_name(cid: int) -> str:
    return f"q{cid}"


class Nft:
    """A handle on our table in the current network namespace."""

    def __init__(self) -> None:
        import nftables  # Debian's python3-nftables; imported here so pure modules never need it

        self._nft = nftables.Nftables()
        self._nft.set_json_output(True)
        self._nft.set_handle_output(True)

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

    def load(self, lan: list[str], wan: list[str]) -> int:
        """Load the ruleset from nft/ into a fresh table and set its interfaces; returns its handle."""
        rc, _out, err = self._nft.cmd(RULESET.read_text())
        if rc != 0:
            raise NftError(_one_line(err))
        self.set_interfaces(lan, wan)
        handle = self.table_handle()
        assert handle is not None
        return handle

    def set_interfaces(self, lan: list[str], wan: list[str]) -> None:
        self.batch(
            [
                {"flush": {"set": {"family": FAMILY, "table": TABLE, "name": "lan_ifaces"}}},
                {"flush": {"set": {"family": FAMILY, "table": TABLE, "name": "wan_ifaces"}}},
                {"add": _elem("lan_ifaces", list(lan))},
                {"add": _elem("wan_ifaces", list(wan))},
            ]
        )

    def delete_table(self) -> bool:
        if self.table_handle() is None:
            return False
        self.batch([{"delete": {"table": {"family": FAMILY, "name": TABLE}}}])
        return True

    # -- clients --------------------------------------------------------------------------------

    def add_clients(self, clients: list[ClientElements], chunk: int = 250) -> None:
        """Create the named objects and map elements of new clients. Batches hold `chunk` clients:
        libnftables' memory grows with a batch, and a 5,000-client one costs a router 150 MB."""
        for i in range(0, len(clients), chunk):
            part = clients[i:i + chunk]
            cmds: list[dict] = []
            for c in part:
                up, down = counter_names(c.id)
                cmds += [{"add": _obj("counter", up)}, {"add": _obj("counter", down)}]
            cmds += [
                {"add": _elem("up", [[c.id, counter_names(c.id)[0]] for c in part])},
                {"add": _elem("down", [[c.id, counter_names(c.id)[1]] for c in part])},
            ]
            for c in part:
                cmds += self._policy_cmds(c)
            cmds.append({"add": _elem("client_id", [[c.mac, c.id] for c in part])})
            self.batch(cmds)
        self.forget_unknown([c.mac for c in clients])

    def update_client(self, c: ClientElements, *, was: ClientElements) -> None:
        """Move one client's kernel state from `was` to `c` in one transaction."""
        self.batch(self._policy_cmds(c, was=was))

    def _policy_cmds(self, c: ClientElements, *, was: ClientElements | None = None) -> list:
        cmds: list[dict] = []
        q = quota_name(c.id)
        if c.quota is not None:
            if was is None or was.quota is None:
                cmds.append({"add": _obj("quota", q, bytes=c.quota, used=c.used, inv=True)})
                cmds.append({"add": _elem("cap", [[c.id, q]])})
            elif was.quota != c.quota:
                # Re-adding an existing quota changes its limit but keeps what it has consumed.
                cmds.append({"add": _obj("quota", q, bytes=c.quota, inv=True)})
        elif was is not None and was.quota is not None:
            cmds += [{"delete": _elem("cap", [c.id])}, {"delete": _obj("quota", q)}]

        old_blocked = was.blocked if was else False
        if c.blocked and not old_blocked:
            cmds.append({"add": _elem("blocked", [c.id])})
        elif old_blocked and not c.blocked:
            cmds.append({"delete": _elem("blocked", [c.id])})

        for name, new, old in (
            ("shape", c.shape, was.shape if was else None),
            ("shape_capped", c.shape_capped, was.shape_capped if was else None),
        ):
            if old is not None and new != old:
                cmds.append({"delete": _elem(name, [c.id])})
            if new is not None and new != old:
                cmds.append({"add": _elem(name, [[c.id, new]])})
        return cmds

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
        """Zero every client's quota at once (period rollover)."""
        self.batch([{"reset": {"quotas": {"family": FAMILY, "table": TABLE}}}])

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

    # -- reading --------------------------------------------------------------------------------

    def read_objects(self) -> dict[str, int]:
        """Every counter's bytes and every quota's consumed bytes in our table, by object name."""
        return dump_objects(TABLE)

    def read_counters(self) -> dict[str, int]:
        """Only the counters: what each poll needs."""
        return dump_objects(TABLE, counters_only=True)

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


def _elem_key(e) -> str:
    if isinstance(e, dict) and "elem" in e:
        return e["elem"]["val"]
    return e


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.strip().startswith("^")]
    return lines[0] if lines else ""


# -- netlink: the fast read path ---------------------------------------------------------------

_NETLINK_NETFILTER = 12
_NFNL_SUBSYS_NFTABLES = 10
_NFT_MSG_GETTABLE, _NFT_MSG_GETOBJ = 1, 19
_NFTA_TABLE_NAME, _NFTA_TABLE_HANDLE = 1, 4
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NFPROTO_INET = 1
_NFTA_OBJ_TABLE, _NFTA_OBJ_NAME, _NFTA_OBJ_TYPE, _NFTA_OBJ_DATA = 1, 2, 3, 4
_NFT_OBJECT_COUNTER, _NFT_OBJECT_QUOTA = 1, 2
_NFTA_COUNTER_BYTES = 1
_NFTA_QUOTA_CONSUMED = 4


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _attrs(buf: memoryview, start: int, end: int):
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", buf, start)
        if length < 4:
            return
        yield kind & 0x3FFF, start + 4, start + length
        start += (length + 3) & ~3


def _dump(msg: int, attrs: bytes, parse) -> bool:
    """Send one nf_tables dump request and feed each reply's attributes to parse(buf, start, end).
    Returns False when the kernel answers ENOENT (no such table)."""
    msg_type = (_NFNL_SUBSYS_NFTABLES << 8) | msg
    payload = struct.pack("=BBH", _NFPROTO_INET, 0, 0) + attrs
    header = struct.pack("=IHHII", 16 + len(payload), msg_type, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.send(header + payload)
        while True:
            data = memoryview(sock.recv(1 << 17))
            pos = 0
            while pos + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, pos)
                if kind == _NLMSG_DONE:
                    return True
                if kind == _NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, pos + 16)
                    if errno == 0:
                        return True
                    if -errno == 2:
                        return False
                    raise NftError(f"netlink dump failed: {os.strerror(-errno)}")
                parse(data, pos + 20, pos + length)
                pos += (length + 3) & ~3


def dump_objects(table: str, counters_only: bool = False) -> dict[str, int]:
    """{name: bytes} for every counter and {name: consumed} for every quota of the table."""
    result: dict[str, int] = {}
    attrs = _attr(_NFTA_OBJ_TABLE, table.encode() + b"\0")
    if counters_only:
        attrs += _attr(_NFTA_OBJ_TYPE, struct.pack(">I", _NFT_OBJECT_COUNTER))
    _dump(_NFT_MSG_GETOBJ, attrs, lambda buf, a, b: _parse_obj(buf, a, b, result))
    return result


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
_WANTED = {_NFT_OBJECT_COUNTER: _NFTA_COUNTER_BYTES, _NFT_OBJECT_QUOTA: _NFTA_QUOTA_CONSUMED}


def _parse_obj(buf: memoryview, pos: int, end: int, out: dict[str, int]) -> None:
    """One object's attributes; an inline loop, as this runs for every counter at every poll."""
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
    wanted = _WANTED.get(obj_type)
    if name is None or data is None or wanted is None:
        return
    pos, end = data
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return
        if kind & 0x3FFF == wanted:
            out[name] = _BE64.unpack_from(buf, pos + 4)[0]
            return
        pos += (length + 3) & ~3
