#!/bin/sh
# The router machine (OpenWrt x86-64, busybox ash, as root): its second NIC on the private network, set
# with uci (Vagrant cannot configure an OpenWrt guest's network), then the sdk machine's feed trusted
# and added to OpenWrt's own package manager, and every package built there installed from it: opkg
# and .ipk up to 24.10, apk and .apk from 25.12.
set -eu

: "${OPENWRT_RELEASE:?}" "${FEED_URL:?}" "${ROUTER_IP:?}"

log() { echo "router: $*"; }
fail() {
	echo "router: $*" >&2
	exit 1
}

check_release() {
	# shellcheck source=/dev/null
	. /etc/openwrt_release
	[ "$DISTRIB_RELEASE" = "$OPENWRT_RELEASE" ] ||
		fail "this box runs OpenWrt $DISTRIB_RELEASE, the feed was built for $OPENWRT_RELEASE"
}

# eth1 as the interface 'feed', in no firewall zone: the router only reaches out on it. First boot may
# have given eth1 to the WAN; the smoke test gives the WAN a device of its own.
set_network() {
	if [ "$(uci -q get network.wan.device)" = eth1 ]; then
		uci set network.wan.proto='none'
		uci -q delete network.wan.device
	fi
	uci -q delete network.wan6 || true
	uci set network.feed=interface
	uci set network.feed.device='eth1'
	uci set network.feed.proto='static'
	uci set network.feed.ipaddr="$ROUTER_IP"
	uci set network.feed.netmask='255.255.255.0'
	uci commit network
	/etc/init.d/network reload
	tries=0
	until uclient-fetch -q -O /tmp/hotspot-names "$FEED_URL/names.txt" 2> /dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt 30 ] || fail "no feed at $FEED_URL (is the sdk machine up and provisioned?)"
		sleep 1
	done
}

install_opkg() {
	uclient-fetch -q -O /tmp/hotspot-feed.pub "$FEED_URL/key-build.pub"
	opkg-key add /tmp/hotspot-feed.pub
	sed -i '/^src\/gz hotspot /d' /etc/opkg/customfeeds.conf
	echo "src/gz hotspot $FEED_URL" >> /etc/opkg/customfeeds.conf
	opkg update
	# shellcheck disable=SC2046 # one package name a word
	opkg install $(cat /tmp/hotspot-names)
}

install_apk() {
	uclient-fetch -q -O /etc/apk/keys/hotspot-feed.pem "$FEED_URL/public-key.pem"
	echo "$FEED_URL/packages.adb" > /etc/apk/repositories.d/hotspot-feed.list
	apk update
	# shellcheck disable=SC2046 # one package name a word
	apk add $(cat /tmp/hotspot-names)
}

check_release
set_network
log "installing from $FEED_URL: $(tr '\n' ' ' < /tmp/hotspot-names)"
if command -v apk > /dev/null; then
	install_apk
else
	install_opkg
fi
log "installed"
