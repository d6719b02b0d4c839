"""How lab clients get their addresses and names: the router's dnsmasq (DHCPv4, the RA for SLAAC, DNS)
and each DHCP client's busybox udhcpc, as on OpenWrt."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess

from lab.processes import Client, Processes, stop_processes, udp_bound
from lab.topology import LAN_DEVICE, PORTAL_NAME, ROUTER4, ROUTER6, SERVER4, SERVER6

# udhcpc event script: configures the client's own interface only; never touches /etc/resolv.conf.
_UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"; ip link set dev "$interface" up; rm -f "$LAB_STATE" ;;
bound|renew)
    [ "$(cat "$LAB_STATE" 2>/dev/null)" = "$ip" ] || ip -4 addr flush dev "$interface"
    ip -4 addr replace "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    for r in $router; do ip -4 route replace default via "$r" dev "$interface"; break; done
    echo "$ip" > "$LAB_STATE.tmp" && mv -f "$LAB_STATE.tmp" "$LAB_STATE"
    printf %s "$opt114" > "$LAB_STATE.opt114"
    printf %s "$opt43" > "$LAB_STATE.opt43"
    echo "$1" > "$LAB_STATE.event" ;;
esac
exit 0
"""


class Dhcp(Processes):
    """The router's dnsmasq and the clients' udhcpc; what they handed out (leases, options, SLAAC)."""

    router: str
    ipv6: bool
    lease_time: str
    captive_url: str | None
    dnsmasq_args: list[str]
    dnsmasq: subprocess.Popen | None
    leases_file: str  # the files below are the lab directory's, named when dnsmasq first starts
    dhcp_opts_file: str
    dnsmasq_pid_file: str

    def _start_dhcp(self) -> None:
        """The router's dnsmasq, and the script the clients' udhcpc will run."""
        d = self.dir
        self.leases_file, self.dnsmasq_pid_file = f"{d}/dnsmasq.leases", f"{d}/dnsmasq.pid"
        # DHCP options that may change while dnsmasq runs (the metered hint, hotspot/uplink): dnsmasq
        # re-reads this file on SIGHUP. It exists from the start, so the first read finds it.
        self.dhcp_opts_file = f"{d}/dhcp-opts"
        open(self.dhcp_opts_file, "a").close()
        with open(f"{d}/udhcpc.sh", "w") as f:
            f.write(_UDHCPC_SCRIPT)
        os.chmod(f"{d}/udhcpc.sh", 0o755)
        self._start_dnsmasq()

    def _start_dnsmasq(self) -> None:
        d = self.dir
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", f"--pid-file={d}/dnsmasq.pid",
                f"--log-facility={d}/dnsmasq.log", "--log-dhcp", "--user=root", "--group=root",
                f"--interface={LAN_DEVICE}", "--bind-interfaces", "--except-interface=lo",
                "--no-resolv", "--no-hosts", "--dhcp-authoritative", "--no-ping",
                f"--dhcp-leasefile={self.leases_file}",
                f"--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,{self.lease_time}",
                "--domain=lan", "--local=/lan/", f"--address=/internet.lab/{SERVER4}",
                f"--address=/{PORTAL_NAME}/{ROUTER4}", f"--dhcp-optsfile={self.dhcp_opts_file}"]
        if self.captive_url:
            argv += [f"--dhcp-option=114,{self.captive_url}"]
        argv += self.dnsmasq_args
        if self.ipv6:
            argv += [f"--address=/internet.lab/{SERVER6}", f"--address=/{PORTAL_NAME}/{ROUTER6}",
                     "--enable-ra",
                     f"--dhcp-range=::,constructor:{LAN_DEVICE},ra-stateless,{self.lease_time}"]
        with open(os.path.join(d, "dnsmasq.log"), "a") as log:
            self.dnsmasq = dnsmasq = self.popen(self.router, *argv, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT)
        try:
            self.wait_for(lambda: dnsmasq.poll() is not None or udp_bound(dnsmasq.pid, "dnsmasq", 67), 10,
                          "dnsmasq", interval=0.01)
        except TimeoutError:
            raise TimeoutError(f"dnsmasq did not start:\n{self._log('dnsmasq.log')}") from None
        if dnsmasq.poll() is not None:
            raise RuntimeError(f"dnsmasq exited:\n{self._log('dnsmasq.log')}")

    def restart_dnsmasq(self) -> None:
        """Stop the router's dnsmasq and start it again (it reads nftset options only at start)."""
        stop_processes([self.dnsmasq])
        self._start_dnsmasq()

    def _start_udhcpc(self, c: Client) -> None:
        argv = ["busybox", "udhcpc", "-f", "-i", c.dev, "-s", os.path.join(self.dir, "udhcpc.sh"),
                "-T", "1", "-t", "60", "-A", "1", "-O", "114", "-O", "43"]
        if c.hostname:
            argv += ["-x", f"hostname:{c.hostname}"]
        env = dict(os.environ, LAB_STATE=os.path.join(self.dir, f"dhcp-{c.name}.ip"))
        with open(os.path.join(self.dir, f"udhcpc-{c.name}.log"), "w") as log:
            c.dhcp_process = self.popen(c.ns, *argv, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, env=env)

    def _wait_configured(self, clients: list[Client], timeout: float = 20) -> None:
        """Until each DHCP client has its DHCPv4 address and (with IPv6) its SLAAC one."""
        todo = [c for c in clients if c.dhcp]

        def done() -> bool:
            for c in list(todo):
                if c.dhcp_process and c.dhcp_process.poll() is not None:
                    raise RuntimeError(f"udhcpc for {c.name} exited:\n{self._log(f'udhcpc-{c.name}.log')}")
                if c.ipv4 is None:
                    with contextlib.suppress(FileNotFoundError), open(
                            os.path.join(self.dir, f"dhcp-{c.name}.ip")) as f:
                        c.ipv4 = f.read().strip() or None
                if c.ipv4 and self.ipv6 and c.ipv6 is None:
                    c.ipv6 = self._slaac_address(c)
                if c.ipv4 and (c.ipv6 or not self.ipv6):
                    todo.remove(c)
            return not todo

        try:
            self.wait_for(done, timeout, "DHCPv4 and SLAAC on " + ", ".join(c.name for c in todo))
        except TimeoutError as e:
            logs = "\n".join(f"--- udhcpc {c.name}:\n{self._log(f'udhcpc-{c.name}.log')}" for c in todo)
            raise TimeoutError(f"{e}\n{logs}\n--- dnsmasq:\n{self._log('dnsmasq.log')}") from None

    def _slaac_address(self, c: Client) -> str | None:
        """The client's global IPv6 address, once it also has the default route from the router's RA."""
        out = self.run(c.ns, "sh", "-c",
                       f"ip -j -6 addr show dev {c.dev} scope global; ip -j -6 route show default")
        addrs, routes = (json.loads(line) for line in out.stdout.splitlines()[:2])
        if not routes:
            return None
        for info in (a for link in addrs for a in link.get("addr_info", ())):
            if info.get("local") and not info.get("tentative") and not info.get("deprecated"):
                return info["local"]
        return None

    def leases(self) -> list[dict]:
        """dnsmasq's lease file: [{'expiry', 'mac', 'ip', 'hostname' (or None), 'client_id'}]."""
        rows = []
        with contextlib.suppress(FileNotFoundError), open(self.leases_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[0] != "duid":
                    rows.append({"expiry": int(parts[0]), "mac": parts[1].lower(), "ip": parts[2],
                                 "hostname": None if parts[3] == "*" else parts[3], "client_id": parts[4]})
        return rows

    def dhcp_option(self, client: str | Client, code: int) -> str:
        """The value of a DHCP option the client's udhcpc received and passed to its script (hex, for
        an option it has no name for, is decoded); '' if none."""
        c = self.client(client)
        try:
            with open(os.path.join(self.dir, f"dhcp-{c.name}.ip.opt{code}")) as f:
                value = f.read()
        except FileNotFoundError:
            return ""
        try:
            return bytes.fromhex(value).decode()
        except ValueError:
            return value

    def renew(self, client: str | Client, timeout: float = 5) -> None:
        """Make the client's udhcpc renew its lease now (SIGUSR1, as at T1) and wait until its script has
        taken the server's answer: the options it records (dhcp_option) are then the server's current ones."""
        c = self.client(client)
        if not c.dhcp or c.dhcp_process is None or c.dhcp_process.poll() is not None:
            raise RuntimeError(f"{c.name} has no running DHCP client")
        event = os.path.join(self.dir, f"dhcp-{c.name}.ip.event")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(event)
        c.dhcp_process.send_signal(signal.SIGUSR1)  # `ip netns exec` exec'd udhcpc: the pid is udhcpc's
        try:
            self.wait_for(lambda: os.path.exists(event), timeout, f"{c.name}'s DHCP renewal")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n{self._log(f'udhcpc-{c.name}.log')}") from None
