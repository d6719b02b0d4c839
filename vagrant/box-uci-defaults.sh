#!/bin/sh
# First boot of the router's Vagrant box (vagrant/box.sh puts this in /etc/uci-defaults/): the first NIC
# is Vagrant's management network, so the LAN, the fw4 zone that lets SSH in, takes its address there
# by DHCP and serves no DHCP of its own. The rest is set by the router's provisioning (vagrant/router.sh).
uci set network.lan.proto='dhcp'
uci -q delete network.lan.ipaddr
uci -q delete network.lan.netmask
uci -q delete network.lan.ip6assign
uci set dhcp.lan.ignore='1'
uci commit network
uci commit dhcp
exit 0
