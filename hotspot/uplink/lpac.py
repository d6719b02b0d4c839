"""eSIM profiles through lpac, the eUICC's local profile assistant (OpenWrt's `lpac` package since 24.10).

lpac is run by absolute path with an argument list, never through a shell, under a timeout; what it
prints is JSON, one object a line, as its docs/USAGE.md documents: progress lines
{"type": "progress", ...} and then one {"type": "lpa", "payload": {"code": 0, "message": "success",
"data": ...}}. On failure `code` is not 0, `message` names the step that failed
("es10c_enable_profile") and `data` says why ("iccid or aid not found"). Anything else it prints is
garbage to us: one-line LpacError, nothing believed.

Which way lpac reaches the eUICC (its APDU backend) is LPAC_APDU in its environment. OpenWrt's
/usr/bin/lpac is a wrapper that sets it from /etc/config/lpac; `esim_apdu` sets it for an lpac binary
run directly (/usr/lib/lpac on OpenWrt).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass

from hotspot.core.units import InvalidValue, check_iccid, quote

TIMEOUT = 60.0  # seconds: enabling a profile makes the modem refresh its SIM, which takes a few
NICKNAME_BYTES = 64  # SGP.22's profileNickname: UTF8String (SIZE(0..64))
_OUTPUT_LIMIT = 1 << 20  # a profile list with icons is some tens of kB


class LpacError(RuntimeError):
    """lpac could not be run, or it failed or said something we cannot read; str() is one line."""


@dataclass(frozen=True)
class Profile:
    iccid: str
    name: str | None  # profileName, the carrier's
    nickname: str | None  # profileNickname, the owner's
    provider: str | None  # serviceProviderName
    state: str  # "enabled" | "disabled"
    profile_class: str | None  # "operational" | "test" | "provisioning"

    def as_dict(self) -> dict:
        return asdict(self)


def check_nickname(text: object) -> str:
    """A profile's nickname as the owner types it: 1 to 64 bytes of UTF-8, printable, not starting
    with "-" (lpac would read it as an option). InvalidValue otherwise."""
    if not isinstance(text, str):
        raise InvalidValue(f"invalid nickname {quote(text)}: expected text")
    name = text.strip()
    if not name:
        raise InvalidValue("invalid nickname: empty")
    if not name.isprintable():
        raise InvalidValue(f"invalid nickname {quote(text)}: only printable characters")
    if name.startswith("-"):
        raise InvalidValue(f"invalid nickname {quote(text)}: must not start with '-'")
    if len(name.encode()) > NICKNAME_BYTES:
        raise InvalidValue(f"invalid nickname {quote(text)}: at most {NICKNAME_BYTES} bytes "
                           f"(a Chinese character takes 3)")
    return name


# -- what lpac prints -------------------------------------------------------------------------------


def answer(output: str):
    """The `data` of lpac's final {"type": "lpa"} line; LpacError with lpac's own message and reason
    when its code is not 0, or when no such line is there."""
    found = None
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("type") == "lpa":
            found = doc
    payload = found.get("payload") if found else None
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), int) or \
            isinstance(payload.get("code"), bool):
        raise LpacError(f"lpac gave no answer we can read: {_excerpt(output)}")
    if payload["code"] != 0:
        message, data = _line(payload.get("message")), _line(payload.get("data"))
        raise LpacError(f"lpac: {message or 'failed'}" + (f": {data}" if data else "")
                        + f" (code {payload['code']})")
    return payload.get("data")


def profiles(data) -> list[Profile]:
    """`lpac profile list`'s data: the eUICC's profiles."""
    if not isinstance(data, list):
        raise LpacError(f"lpac profile list: expected a list, got {type(data).__name__}")
    out = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("iccid"), str):
            raise LpacError(f"lpac profile list: a profile without an ICCID: {_excerpt(json.dumps(item))}")
        state = item.get("profileState")
        if not isinstance(state, str) or state.lower() not in ("enabled", "disabled"):
            raise LpacError(f"lpac profile list: profile {quote(item['iccid'])} in state {quote(state)}")
        out.append(Profile(iccid=_line(item["iccid"]), name=_text(item.get("profileName")),
                           nickname=_text(item.get("profileNickname")),
                           provider=_text(item.get("serviceProviderName")), state=state.lower(),
                           profile_class=_text(item.get("profileClass"))))
    return out


def eid(data) -> str:
    """`lpac chip info`'s data: the eUICC's EID (32 digits)."""
    value = data.get("eidValue") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.isascii() or not value.isalnum():
        raise LpacError(f"lpac chip info: no EID in {_excerpt(json.dumps(data))}")
    return value


def _text(value) -> str | None:
    return _line(value) or None if isinstance(value, str) else None


def _line(value) -> str:
    """lpac's text as one printable line (a carrier names its profile as it likes)."""
    if not isinstance(value, str):
        return ""
    return "".join(c if c.isprintable() else " " for c in value).strip()[:200]


def _excerpt(text: str) -> str:
    return quote(" ".join(text.split())) if text.strip() else "nothing"


# -- running it -------------------------------------------------------------------------------------


class Lpac:
    """lpac at `path` (absolute), with LPAC_APDU=`apdu` when given. Each call runs it once."""

    def __init__(self, path: str, apdu: str | None = None, timeout: float = TIMEOUT) -> None:
        if not os.path.isabs(path):
            raise ValueError(f"lpac's path must be absolute: {path!r}")
        self.path, self.apdu, self.timeout = path, apdu, timeout

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)

    def run(self, *args: str):
        """lpac's answer's data; LpacError with one line when it cannot be run or fails."""
        env = dict(os.environ)
        if self.apdu:
            env["LPAC_APDU"] = self.apdu
        try:
            done = subprocess.run([self.path, *args], stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=self.timeout, env=env, check=False)
        except FileNotFoundError:
            raise LpacError(f"lpac is not installed at {self.path} (opkg install lpac)") from None
        except PermissionError:
            raise LpacError(f"{self.path} cannot be run") from None
        except subprocess.TimeoutExpired:
            raise LpacError(f"lpac {args[0]} {args[1]} did not answer within {self.timeout:g} s") from None
        except OSError as e:
            raise LpacError(f"cannot run {self.path}: {e.strerror or e}") from None
        output = done.stdout[:_OUTPUT_LIMIT].decode("utf-8", "replace")
        try:
            return answer(output)
        except LpacError:
            if done.returncode and done.stderr.strip():  # no JSON at all: say what it said instead
                raise LpacError(f"lpac failed (exit {done.returncode}): "
                                f"{_excerpt(done.stderr[-400:].decode('utf-8', 'replace'))}") from None
            raise

    def chip_eid(self) -> str:
        return eid(self.run("chip", "info"))

    def profiles(self) -> list[Profile]:
        return profiles(self.run("profile", "list"))

    def enable(self, iccid: str) -> None:
        self.run("profile", "enable", check_iccid(iccid))

    def nickname(self, iccid: str, name: str) -> None:
        self.run("profile", "nickname", check_iccid(iccid), check_nickname(name))
