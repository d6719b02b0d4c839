"""One Access-Request over the network with pyrad: each server in order, `retries` sends each, until one
answers with a reply that proves it knows the secret. Every request carries a Message-Authenticator and
every answer must carry a valid one (Blast-RADIUS, CVE-2024-3596): pyrad drops any other reply, as it
drops one whose Response Authenticator is wrong (a wrong secret), so such a server counts as silent."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from hotspot.radius.model import DICTIONARY, Server

log = logging.getLogger("hotspot")
_dictionary: Dictionary | None = None


def dictionary() -> Dictionary:
    global _dictionary
    if _dictionary is None:
        _dictionary = Dictionary(str(DICTIONARY))
    return _dictionary


class Unreachable(Exception):
    """No server gave a valid answer."""


@dataclass(frozen=True)
class Answer:
    accepted: bool
    attributes: dict  # name -> list of values
    server: Server


def authenticate(servers: tuple[Server, ...], default_secret: str | None, password: str, attrs: dict, *,
                 timeout: float, retries: int) -> Answer:
    """Access-Request (PAP) to the first server that answers validly; Unreachable if none does."""
    for server in servers:
        secret = (server.secret if server.secret is not None else default_secret or "").encode()
        client = Client(server=server.host, authport=server.auth_port, acctport=server.acct_port,
                        secret=secret, dict=dictionary(), retries=retries, timeout=timeout, enforce_ma=True)
        try:
            req = client.CreateAuthPacket(code=packet.AccessRequest)
            for name, value in attrs.items():
                req[name] = value
            req["User-Password"] = req.PwCrypt(password)
            req.add_message_authenticator()
            reply = client.SendPacket(req)
        except Timeout:
            log.warning("RADIUS server %s: no valid answer", server.host)
            continue
        except OSError as e:
            log.warning("RADIUS server %s: %s", server.host, e)
            continue
        finally:
            client._CloseSocket()
        if reply.code not in (packet.AccessAccept, packet.AccessReject):
            log.warning("RADIUS server %s: answered with code %s", server.host, reply.code)
            continue
        return Answer(reply.code == packet.AccessAccept, {k: reply[k] for k in reply.keys()  # noqa: SIM118 -- names
                                                            if isinstance(k, str)}, server)
    raise Unreachable("no RADIUS server answered")
