#!/bin/bash
# The sdk machine (Debian 12, as root): what OpenWrt's SDK needs to build on Debian, the tools that make
# the router's box (vagrant/box.sh), and the HTTP server of /srv/hotspot-feed on port 8000, from which
# the router machine installs the packages and the host fetches the router's box.
set -euo pipefail

PUBLISH=/srv/hotspot-feed

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# OpenWrt's list for Debian (its build system's prerequisites), and qemu-utils and fdisk for the box.
apt-get install -y -qq build-essential clang flex bison g++ gawk gettext git libncurses-dev libssl-dev \
	python3 python3-distutils python3-setuptools rsync swig unzip zlib1g-dev file wget curl ca-certificates \
	xz-utils zstd qemu-utils fdisk e2fsprogs > /dev/null

install -d -o vagrant -g vagrant "$PUBLISH"
cat > /etc/systemd/system/hotspot-feed.service << UNIT
[Unit]
Description=The hotspot packages built here, and the router's Vagrant box, over HTTP
After=network-online.target

[Service]
User=vagrant
ExecStart=/usr/bin/python3 -m http.server 8000 --directory $PUBLISH
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now hotspot-feed.service
