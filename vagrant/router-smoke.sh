#!/bin/sh
# The router machine's smoke test, on OpenWrt itself (busybox ash, as root): hotspotd up, a client
# counted and capped, LuCI's page of hotspot answering. Again: vagrant provision router --provision-with smoke
#
# The client and the "internet" are network namespaces on the router (ip-full and kmod-veth are
# installed for them), each joined to it by a veth pair: hslan is hotspot's LAN device (the network
# hsclients, in fw4's lan zone), hswan its metered uplink (the network wan, fw4's wan zone, masqueraded).
# uhttpd serves the files the client downloads on the internet's side: the test's traffic stays inside
# the machine.
set -eu

CLIENT_NS=hs-client
INET_NS=hs-inet
WWW=/tmp/hs-www
CAP_SIZE=4MB
CAP=4000000
# What a cap may let past (packets in flight when the quota runs out): the lab's own bound.
SLACK=262144
LUCI_PAGE=/cgi-bin/luci/admin/services/hotspot

log() { echo "smoke: $*"; }
ok() { echo "smoke: ok: $*"; }
fail() {
	echo "smoke: FAIL: $*" >&2
	exit 1
}

# wait_for SECONDS WHAT COMMAND...: run COMMAND every second until it succeeds; after SECONDS, say
# WHAT failed and return 1 (the script then stops: set -e).
wait_for() {
	seconds=$1 what=$2
	shift 2
	until "$@"; do
		seconds=$((seconds - 1))
		if [ "$seconds" -le 0 ]; then
			echo "smoke: FAIL: $what" >&2
			return 1
		fi
		sleep 1
	done
}

pkg_add() {
	if command -v apk > /dev/null; then
		apk add "$@"
	else
		opkg update > /dev/null && opkg install "$@"
	fi
}

in_client() { ip netns exec "$CLIENT_NS" "$@"; }

# The bytes on the client's wire, both ways, since its interface was made (Ethernet frames).
wire_bytes() {
	rx=$(in_client cat /sys/class/net/eth0/statistics/rx_bytes)
	tx=$(in_client cat /sys/class/net/eth0/statistics/tx_bytes)
	echo $((rx + tx))
}

# fetch FILE SECONDS: the client downloads FILE from the internet's side; fails when cut off.
fetch() { in_client uclient-fetch -q -T "$2" -O /dev/null "http://10.78.0.2/$1"; }

# client_field FIELD: one field of `hotspotctl --json client MAC` for the client.
client_field() { jsonfilter -s "$(hotspotctl --json client "$mac")" -e "@.$1"; }

lan_zone() {
	i=0
	while uci -q get "firewall.@zone[$i]" > /dev/null; do
		if [ "$(uci -q get "firewall.@zone[$i].name")" = lan ]; then
			echo "@zone[$i]"
			return
		fi
		i=$((i + 1))
	done
	fail "fw4 has no lan zone"
}

topology() {
	pkg_add ip-full kmod-veth > /dev/null
	for ns in "$CLIENT_NS" "$INET_NS"; do
		ip netns del "$ns" 2> /dev/null || true
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip link del hslan 2> /dev/null || true
	ip link del hswan 2> /dev/null || true
	ip link add hslan type veth peer name eth0 netns "$CLIENT_NS"
	ip link add hswan type veth peer name eth0 netns "$INET_NS"
	ip -n "$CLIENT_NS" addr add 10.77.0.2/24 dev eth0
	ip -n "$CLIENT_NS" link set eth0 up
	ip -n "$CLIENT_NS" route add default via 10.77.0.1
	ip -n "$INET_NS" addr add 10.78.0.2/24 dev eth0
	ip -n "$INET_NS" link set eth0 up

	uci set network.hsclients=interface
	uci set network.hsclients.device='hslan'
	uci set network.hsclients.proto='static'
	uci set network.hsclients.ipaddr='10.77.0.1'
	uci set network.hsclients.netmask='255.255.255.0'
	uci set network.wan.device='hswan'
	uci set network.wan.proto='static'
	uci set network.wan.ipaddr='10.78.0.1'
	uci set network.wan.netmask='255.255.255.0'
	zone=$(lan_zone)
	uci -q del_list "firewall.$zone.network=hsclients" || true
	uci add_list "firewall.$zone.network=hsclients"
	uci commit network
	uci commit firewall
	/etc/init.d/network reload
	/etc/init.d/firewall reload

	mkdir -p "$WWW"
	dd if=/dev/zero of="$WWW/small" bs=1024 count=2048 2> /dev/null
	dd if=/dev/zero of="$WWW/blob" bs=1024 count=8192 2> /dev/null
	ip netns exec "$INET_NS" uhttpd -f -p 10.78.0.2:80 -h "$WWW" > /dev/null 2>&1 &
	uhttpd_pid=$!
	trap 'kill "$uhttpd_pid" 2> /dev/null || true' EXIT
	wait_for 30 "the client cannot reach the internet's side through the router" \
		in_client ping -c 1 -W 1 10.78.0.2 > /dev/null
	ok "a client (namespace $CLIENT_NS) behind hslan, the internet (namespace $INET_NS) behind hswan"
}

daemon_up() {
	/etc/init.d/hotspot status > /dev/null 2>&1 || return 1
	status=$(hotspotctl --json status 2> /dev/null) || return 1
	[ "$(jsonfilter -s "$status" -e '@.daemon.running')" = true ] &&
		[ "$(jsonfilter -s "$status" -e '@.kernel.table')" = true ]
}

check_daemon() {
	uci set hotspot.main.lan_device='hslan'
	uci -q delete hotspot.main.wan_device || true
	uci add_list hotspot.main.wan_device='hswan'
	uci commit hotspot
	/etc/init.d/hotspot enable
	/etc/init.d/hotspot restart
	if ! wait_for 30 "hotspotd is not up" daemon_up; then
		logread -e hotspot | tail -n 20 >&2
		exit 1
	fi
	ok "hotspotd up (procd runs it; hotspotctl status: daemon running, table inet hotspot loaded)"
}

check_counted() {
	mac=$(in_client cat /sys/class/net/eth0/address)
	fetch small 20 || fail "the client cannot download through the router"
	wait_for 20 "hotspotd never registered the client $mac" hotspotctl client "$mac" > /dev/null 2>&1
	sleep 5 # a few polls
	counted=$(client_field bytes_total)
	wire=$(wire_bytes)
	# The kernel counts IP packets, the wire Ethernet frames (14 bytes more each) and the frames that
	# never cross the uplink (ARP, neighbour discovery): counted is a little under the wire, never over.
	[ "$counted" -le "$wire" ] && [ $((counted * 100)) -ge $((wire * 95)) ] ||
		fail "hotspot counted $counted bytes for $mac, its wire carried $wire"
	ok "a client counted: $counted bytes of the $wire on its wire"
}

check_capped() {
	hotspotctl cap "$mac" "$CAP_SIZE"
	if fetch blob 5; then
		fail "the client downloaded 8 MB through a cap of $CAP_SIZE"
	fi
	sleep 5
	state=$(client_field state)
	counted=$(client_field bytes_total)
	wire=$(wire_bytes)
	[ "$state" = capped ] || fail "the client is $state, not capped, with $counted bytes counted"
	[ "$counted" -le $((CAP + SLACK)) ] || fail "$counted bytes counted, past the cap of $CAP"
	[ "$wire" -ge $((CAP - SLACK)) ] || fail "the client's wire carried $wire bytes: it never reached the cap"
	ok "a client capped: $state at $counted bytes counted (cap $CAP), the download cut off"
}

# LuCI's own login (its form, as a browser posts it; root has no password in this box), then the page
# of hotspot with the session's cookie: 200, the app's page, not the login form.
check_luci() {
	python3 - "$LUCI_PAGE" << 'PY' || fail "LuCI's page of hotspot does not answer"
import http.client
import sys

conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=30)
conn.request("POST", "/cgi-bin/luci/", "luci_username=root&luci_password=",
             {"Content-Type": "application/x-www-form-urlencoded"})
login = conn.getresponse()
login.read()
cookies = [c.split(";")[0] for c in login.headers.get_all("Set-Cookie") or [] if c.startswith("sysauth")]
if login.status != 302 or not cookies:
    sys.exit(f"LuCI's login answered {login.status} without a session cookie")
conn.request("GET", sys.argv[1], headers={"Cookie": "; ".join(cookies)})
page = conn.getresponse()
body = page.read().decode("utf-8", "replace")
if page.status != 200 or "luci_password" in body or "hotspot" not in body:
    sys.exit(f"{sys.argv[1]} answered {page.status} ({len(body)} characters) without hotspot's page")
print(f"{sys.argv[1]}: {page.status}, {len(body)} characters")
PY
	ok "LuCI answers $LUCI_PAGE after its login"
}

topology
check_daemon
check_counted
check_capped
check_luci
log "passed"
