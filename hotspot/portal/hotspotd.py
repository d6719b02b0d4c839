"""The portal's side of hotspotd's socket: IpcBackend, a method per declared operation
(hotspot/contract.py), each a call over the socket (the wire format: hotspot/core/contract.py).
hotspotctl uses it too, for root's operations (`passwd` ends the admin sessions)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from hotspot.contract import OPERATIONS, OPS
from hotspot.core.contract import (
    CREDENTIALS,
    TIMEOUT,
    BackendError,
    NotAClient,
    NotAdmin,
    Operation,
    VoucherRefused,
)

_ERRORS = {"NotAClient": NotAClient, "BackendError": BackendError}


class IpcBackend:
    """The portal's side: a method per declared operation (made below from OPERATIONS), each a call
    over the socket; the owner's carry the session keyword, which goes to hotspotd to check."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def _call(self, op: str, args: dict, **credentials):
        wait = OPS[op].wait
        request = {"op": op, "args": args, **{k: v for k, v in credentials.items() if v is not None}}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            try:
                s.connect(self.path)
                s.settimeout(wait)
            except OSError as e:
                raise BackendError(f"hotspotd is not answering ({e.strerror or e})") from None
            try:
                try:
                    s.sendall(json.dumps(request).encode() + b"\n")
                except BrokenPipeError:
                    pass  # refused before it was read (hotspotd is busy): its one line is there
                with s.makefile("rb") as f:
                    line = f.readline()
            except TimeoutError:
                raise BackendError(f"hotspotd did not answer within {wait:g} s") from None
            except OSError:
                line = b""
        if not line:
            raise BackendError("hotspotd closed the connection")
        answer = json.loads(line)
        if answer.get("ok"):
            return answer["result"]
        kind = answer.get("kind")
        if kind == "VoucherRefused":
            raise VoucherRefused(answer.get("error", "error"), str(answer.get("reason", "invalid")))
        if kind == "NotAdmin":
            raise NotAdmin(answer.get("error", "log in first"))
        raise _ERRORS.get(kind, BackendError)(answer.get("error", "error"))


def _method(o: Operation):
    sig = o.signature(credentials=True)
    creds = CREDENTIALS.get(o.who, ())

    def call(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        given = {k: v for k, v in bound.arguments.items() if k != "self"}
        return self._call(o.name, {k: v for k, v in given.items() if k not in creds},
                          **{k: given[k] for k in creds})

    call.__name__ = call.__qualname__ = o.name
    call.__doc__ = o.doc
    call.__signature__ = sig
    return call


for _op in OPERATIONS:
    setattr(IpcBackend, _op.name, _method(_op))
del _op
