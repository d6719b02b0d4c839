"""How lab clients get their addresses and names: the router's dnsmasq (DHCPv4, the RA for SLAAC, stateless
DHCPv6, DNS) and each DHCP client's busybox udhcpc, as on OpenWrt; Debian's ISC dhclient -6 where a client
asks for its stateless DHCPv6 options (busybox's udhcpc6 is not in Debian's busybox), and a raw ICMPv6
socket that reads the router's advertisement as a client receives it."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys

from hotspot.captive.rfc8910 import dnsmasq_options
from lab.processes import Client, Processes, stop_processes, udp_bound
from lab.topology import LAN_DEVICE, PORTAL_NAME, ROUTER4, ROUTER6, SERVER4, SERVER6, Topology

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

# dhclient runs its script with an environment of its own making: the file it records into is written in.
# Stateless (-S), it passes what the Information-request's reply held, as RENEW6 (or INFORM6).
_DHCLIENT6_SCRIPT = """#!/bin/sh
[ -n "$new_dhcp6_name_servers" ] || exit 0
printf '%s\\n%s\\n' "$new_dhcp6_v6_captive_portal" "$new_dhcp6_name_servers" > {out}.tmp
mv -f {out}.tmp {out}
"""
# dhclient asks for what its config requests: option 103 by its ISC name, as RFC 8910 wants a client to.
_DHCLIENT6_CONF = "request dhcp6.name-servers, dhcp6.v6-captive-portal;\n"

# Run in a client's namespace: ask for a router advertisement (a Router Solicitation to all routers) and
# print the options of the first RA (with argv[3], the first that carries that option type) as JSON:
# [[type, hex of the option's body after its type and length octets], ...].
_RA_LISTENER = r"""
import json, socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
f = [0xFFFFFFFF] * 8
f[134 >> 5] &= ~(1 << (134 & 31))  # ICMP6_FILTER: pass only type 134, router advertisements
s.setsockopt(socket.IPPROTO_ICMPV6, 1, struct.pack("8I", *f))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, socket.if_nametoindex(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
want = int(sys.argv[3])
while True:
    ra = s.recv(65535)
    opts, i = [], 16  # type, code, checksum, hop limit, flags, lifetime, reachable, retrans
    while i + 2 <= len(ra) and ra[i + 1]:
        n = ra[i + 1] * 8
        opts.append([ra[i], ra[i + 2:i + n].hex()])
        i += n
    if not want or any(t == want for t, _ in opts):
        print(json.dumps(opts))
        break
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
        if self.captive_url:  # option 114, and with IPv6 option 103, as hotspot.captive.rfc8910 writes them
            argv += [f"--dhcp-option={o}" for o in dnsmasq_options(self.captive_url)[:2 if self.ipv6 else 1]]
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

    def dhcpv6_info(self, client: str | Client, timeout: float = 10) -> dict[str, str]:
        """What a stateless DHCPv6 client gets from the router: {'captive_portal': option 103's URL (''
        if none), 'name_servers': option 23's addresses, space-separated}. The client is Debian's ISC
        dhclient -6 -S (an Information-request, as a phone that configures its address by SLAAC sends);
        it stays running (its refresh timer) until the lab is closed."""
        c = self.client(client)
        base = os.path.join(self.dir, f"dhcp6-{c.name}")
        with open(f"{base}.conf", "w") as f:
            f.write(_DHCLIENT6_CONF)
        with open(f"{base}.sh", "w") as f:
            f.write(_DHCLIENT6_SCRIPT.format(out=shlex.quote(f"{base}.got")))
        os.chmod(f"{base}.sh", 0o755)
        # A copy of its own: AppArmor's profile for /sbin/dhclient (Debian's, Ubuntu's) lets it read its
        # config only from /etc/dhcp and run only the system's script.
        dhclient = os.path.join(self.dir, "dhclient")
        if not os.path.exists(dhclient):
            shutil.copy(shutil.which("dhclient", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
                        or "/sbin/dhclient", dhclient)
        with open(f"{base}.log", "w") as log:
            p = self.popen(c.ns, dhclient, "-6", "-S", "-d", "-cf", f"{base}.conf", "-lf", f"{base}.leases",
                           "-pf", f"{base}.pid", "-sf", f"{base}.sh", c.dev, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=subprocess.STDOUT)

        def answered() -> bool:
            if os.path.exists(f"{base}.got"):
                return True
            if p.poll() is not None:
                raise RuntimeError(f"dhclient -6 for {c.name} exited:\n{self._log(f'dhcp6-{c.name}.log')}")
            return False

        try:
            self.wait_for(answered, timeout, f"{c.name}'s DHCPv6 reply")
        except TimeoutError as e:
            logs = f"{self._log(f'dhcp6-{c.name}.log')}\n--- dnsmasq:\n{self._log('dnsmasq.log')}"
            raise TimeoutError(f"{e}\n{logs}") from None
        with open(f"{base}.got") as f:
            portal, servers = (f.read().split("\n") + ["", ""])[:2]
        return {"captive_portal": portal, "name_servers": servers}

    def ipv6_only(self, client: str | Client) -> dict[str, str]:
        """Make a DHCP client IPv6-only, as a phone on a network without IPv4: its DHCPv4 client stops,
        its IPv4 addresses and routes go, it asks for its stateless DHCPv6 options (dhcpv6_info, which
        this returns) and takes the name servers they give as its resolvers."""
        c = self.client(client)
        if c.dhcp_process is not None:
            stop_processes([c.dhcp_process])
        self.run(c.ns, "sh", "-c", f"ip -4 route flush dev {c.dev}; ip -4 addr flush dev {c.dev}")
        c.ipv4 = None
        info = self.dhcpv6_info(c)
        Topology._write_resolv_conf(c.ns, "".join(f"nameserver {a}\n" for a in info["name_servers"].split()))
        return info

    def router_advert(self, client: str | Client, timeout: float = 5,
                      carrying: int | None = None) -> list[tuple[int, bytes]]:
        """The options of a router advertisement the client receives now (with `carrying`, the first one
        that has an option of that type), in order: [(type, body)], the body without its type and length
        octets (padding included). The client solicits it (RFC 4861), so the router's answer does not wait
        for its next periodic advertisement."""
        c = self.client(client)
        out = self.run(c.ns, sys.executable, "-c", _RA_LISTENER, c.dev, timeout, carrying or 0,
                       timeout=timeout + 5).stdout
        return [(t, bytes.fromhex(body)) for t, body in json.loads(out)]
