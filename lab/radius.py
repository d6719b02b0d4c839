"""A real FreeRADIUS (Debian's `freeradius`, 3.2) for the lab: Debian's own configuration copied into the
test's directory with a site, clients and users of the test's own, run in the foreground in a namespace
(the lab's internet, where a fleet's central server would be)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from lab.processes import stop_processes

DEBIAN_RADDB = Path("/etc/freeradius/3.0")

SITE = """server default {{
    listen {{
        type = auth
        ipaddr = {address}
        port = {port}
    }}
    authorize {{
        files
        pap
    }}
    authenticate {{
        Auth-Type PAP {{
            pap
        }}
    }}
    # Debian's 3.2.1 signs its answers only when told to (3.2.5 and later always do: Blast-RADIUS)
    post-auth {{
        update reply {{
            Message-Authenticator := 0x00
        }}
        Post-Auth-Type REJECT {{
            attr_filter.access_reject
            update reply {{
                Message-Authenticator := 0x00
            }}
        }}
    }}
}}
"""

# CoovaChilli's Gigawords, which Debian's dictionary.chillispot lacks.
LOCAL_DICTIONARY = """
BEGIN-VENDOR ChilliSpot
ATTRIBUTE ChilliSpot-Max-Input-Gigawords 21 integer
ATTRIBUTE ChilliSpot-Max-Output-Gigawords 22 integer
ATTRIBUTE ChilliSpot-Max-Total-Gigawords 23 integer
END-VENDOR ChilliSpot
"""


class FreeRadius:
    def __init__(self, lab, ns: str, directory: Path, *, address: str, port: int = 1812,
                 clients: dict[str, str], users: str, sign: bool = True) -> None:
        """`sign`: False for a server that answers without a Message-Authenticator (unpatched for
        Blast-RADIUS), which hotspot must not believe."""
        self.lab, self.ns, self.address, self.port = lab, ns, address, port
        self.dir = Path(directory)
        self.raddb = self.dir / "raddb"
        self.log = self.dir / "radiusd.log"
        shutil.copytree(DEBIAN_RADDB, self.raddb, symlinks=False)
        for gone in ("sites-enabled/inner-tunnel", "sites-enabled/default", "mods-enabled/eap"):
            (self.raddb / gone).unlink(missing_ok=True)
        conf = self.raddb / "radiusd.conf"
        lines = [ln for ln in conf.read_text().splitlines()
                 if ln.strip().split(" ")[0] not in ("user", "group")]
        text = "\n".join(lines).replace("run_dir = ${localstatedir}/run/${name}", f"run_dir = {self.dir}")
        text = text.replace("reject_delay = 1", "reject_delay = 0")
        conf.write_text(text.replace("logdir = /var/log/freeradius", f"logdir = {self.dir}"))
        site = SITE.format(address=address, port=port)
        if not sign:
            site = site.replace("Message-Authenticator := 0x00", "Reply-Message += \"\"")
        (self.raddb / "sites-enabled" / "hotspot").write_text(site)
        (self.raddb / "clients.conf").write_text("".join(
            f"client c{i} {{\n    ipaddr = {addr}\n    secret = {secret}\n"
            "    require_message_authenticator = yes\n}\n"
            for i, (addr, secret) in enumerate(clients.items())))
        (self.raddb / "mods-config" / "files" / "authorize").write_text(users)
        with (self.raddb / "dictionary").open("a") as f:
            f.write(LOCAL_DICTIONARY)
        self.proc: subprocess.Popen | None = None

    def start(self) -> FreeRadius:
        out = self.log.open("w")
        self.proc = self.lab.popen(self.ns, "freeradius", "-f", "-X", "-d", str(self.raddb),
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while "Ready to process requests" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("freeradius did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc:
            stop_processes([self.proc], grace=5)

    def requests(self) -> int:
        """How many Access-Requests it received (its debug log's count)."""
        return self.log.read_text().count("Received Access-Request")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
