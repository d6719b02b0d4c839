"""The socket's machinery: how an operation of hotspotd's socket is declared, who may call it, what a
refusal looks like, and the check that keeps every side of the socket to the declarations.

The portal's workers run unprivileged; everything that needs the kernel, the database or a secret they
ask of hotspotd over its Unix socket. Each capability declares the operations it answers in its own
`ops.py` with `op()`; hotspot/contract.py gathers them into the one list hotspotd's server
(hotspot/daemon/server.py), the portal's client (hotspot/portal/hotspotd.py) and the tests' fake
follow. This module is imported by the portal's worker: it stays pure and light (no Flask, no sqlite).

On the wire, one request per connection, one JSON line each way: {"op": NAME, "args": {...},
"session": TOKEN, "token": TOKEN} (the last two only where the operation wants them) and back
{"ok": true, "result": ...} or {"ok": false, "error": "one line", "kind": KIND}, KIND one of
"NotAClient" | "BackendError" | "VoucherRefused" (which adds "reason") | "NotAdmin".

Who may call an operation (`who`):
- guest: the portal, for the device its connection came from, named by `ip` (the request's source
  address: hotspotd maps it to a MAC through the kernel's neighbour table, so nothing the client sends,
  headers or parameters, can make it another client). It carries nothing else.
- portal: the portal itself (what it needs to run).
- admin: the portal with the admin's session token (`session`), which hotspotd issued at login and
  checks on every call; the portal holds nothing that makes one.
- metrics: as admin, or with the metrics bearer token (`token`), which hotspotd checks.
- root: root only (hotspotctl). Root may call every operation, and any user but root and the portal's
  own none at all (SO_PEERCRED).

Results are JSON: ISO 8601 strings for times, bytes and bits/s as integers, None where nothing applies.
Each ops.py says what its larger results (a "client view", a "voucher", ...) hold.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GUEST, PORTAL, ADMIN, METRICS, ROOT = "guest", "portal", "admin", "metrics", "root"
CREDENTIALS = {ADMIN: ("session",), METRICS: ("session", "token")}  # what the portal adds to a call
TIMEOUT = 10.0  # seconds the portal waits for an answer
MAX_REQUEST = 64 * 1024  # a password, a form's fields: far less; anything bigger is refused


def socket_path(run_dir: str) -> Path:
    """Where hotspotd listens (run_dir: root's, RAM)."""
    return Path(run_dir) / "hotspotd.sock"


class BackendError(Exception):
    """A refused request; the message is one line, fit to show the user."""


class NotAClient(BackendError):
    """The request's source address belongs to no known LAN client."""


class VoucherRefused(BackendError):
    """A voucher code that cannot admit the device. `reason` says why, for the portal to say it in the
    reader's language: "invalid" | "revoked" | "expired" | "used_up" | "devices" (in use on as many
    devices as it allows)."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class NotAdmin(Exception):
    """An owner's operation without a session hotspotd accepts (none, ended, expired, or the password
    changed). Not a BackendError: no page shows it as a form's error; the portal sends to the login."""


@dataclass(frozen=True)
class Operation:
    name: str
    who: str
    params: tuple[tuple[str, Any], ...]  # (name, default), inspect.Parameter.empty for none
    result: str  # the answer's shape (its ops.py names the larger ones)
    doc: str
    wait: float = TIMEOUT  # how long the portal waits for the answer

    def signature(self, *, credentials: bool) -> inspect.Signature:
        """The method's parameters: the arguments, then (for the portal's side, `credentials`) the
        session or token hotspotd checks, keyword-only; `session` is required for admin operations."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter("self", kind)]
        params += [inspect.Parameter(n, kind, default=d) for n, d in self.params]
        if credentials:
            optional = self.who == METRICS
            params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                         default=None if optional else inspect.Parameter.empty)
                       for n in CREDENTIALS.get(self.who, ())]
        return inspect.Signature(params)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.params)

    @property
    def required(self) -> set[str]:
        return {n for n, d in self.params if d is inspect.Parameter.empty}


def op(name: str, who: str, params: str, result: str, doc: str, wait: float = TIMEOUT) -> Operation:
    """An Operation from its parameters written as in Python ("ip, voucher=None")."""
    parsed = []
    for part in filter(None, (p.strip() for p in params.split(","))):
        pname, eq, default = part.partition("=")
        parsed.append((pname.strip(), ast.literal_eval(default.strip()) if eq else inspect.Parameter.empty))
    return Operation(name, who, tuple(parsed), result, doc, wait)


def gather(*groups: tuple[Operation, ...]) -> tuple[Operation, ...]:
    """The groups' operations in the order given; TypeError if a name is declared twice."""
    operations = tuple(o for group in groups for o in group)
    seen: set[str] = set()
    twice = [o.name for o in operations if o.name in seen or seen.add(o.name)]
    if twice:
        raise TypeError("operations declared twice: " + ", ".join(twice))
    return operations


# A Backend: an object with a method per operation (the portal's side: IpcBackend, the tests' fake).
Backend = Any


def check_backend(target, operations: tuple[Operation, ...], *, credentials: bool = True):
    """Raise TypeError unless `target` (a class, or an object of bound methods) has a method for each of
    `operations`, with exactly its declared parameters (`credentials`: the portal's side, which adds
    the session or token; else hotspotd's side, which gets the arguments only). Root's operations are
    not the portal's to call."""
    def shape(sig: inspect.Signature) -> list:  # names, kinds and defaults; annotations are free
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    bound = not isinstance(target, type)
    wrong = []
    for o in operations:
        if credentials and o.who == ROOT:
            continue
        method = getattr(target, o.name, None)
        want = o.signature(credentials=credentials)
        if bound:  # a bound method has no `self`
            want = want.replace(parameters=list(want.parameters.values())[1:])
        if not callable(method):
            wrong.append(f"{o.name}: missing")
        elif shape(inspect.signature(method)) != shape(want):
            wrong.append(f"{o.name}{inspect.signature(method)}: declared {o.name}{want}")
    if wrong:
        name = type(target).__name__ if bound else target.__name__
        raise TypeError(f"{name} does not match the socket's operations: " + "; ".join(wrong))
    return target


# -- an operation's arguments, as the portal sent them (JSON: any type at all) -----------------------------


def text(value) -> str:
    """A form's field as text, or InvalidValue."""
    from hotspot.core.units import InvalidValue

    if not isinstance(value, str):
        raise InvalidValue("a value is needed")
    return value


def mac_arg(value) -> str:
    """A MAC address argument, or BackendError with the one-line reason."""
    from hotspot.core.units import InvalidValue, parse_mac

    try:
        return parse_mac(text(value))
    except InvalidValue as e:
        raise BackendError(str(e)) from None
