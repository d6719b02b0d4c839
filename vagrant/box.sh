#!/bin/bash
# The router machine's Vagrant box, made in the sdk machine (as root: it mounts the image) from OpenWrt's
# official x86-64 image of the release, for libvirt, and published as
# /srv/hotspot-feed/openwrt-RELEASE-x86-64.box, where `vagrant up router` fetches it.
#
# OpenWrt publishes no Vagrant box, and the boxes of OpenWrt x86-64 others publish are third-party
# builds whose upkeep and contents nobody here can vouch for. This one is the release's ext4 image
# (checked against its sha256sums) with three changes: the disk grown to 1 GiB (the image's root holds
# about 100 MB, too little for Python and the packages), Vagrant's public keys for root's login over
# dropbear, and a first-boot script (box-uci-defaults.sh) that gives the LAN, which is the first NIC and
# so Vagrant's management network, its address by DHCP. Everything else the router needs is set by its
# provisioning (vagrant/router.sh), with uci.
set -euo pipefail

REPO=${REPO:-/vagrant}
PUBLISH=${PUBLISH:-/srv/hotspot-feed}
# shellcheck source=vagrant/release.sh
. "$REPO/vagrant/release.sh"
: "${VAGRANT_KEYS:?the public keys Vagrant logs in with (the Vagrantfile passes them)}"

box="$PUBLISH/openwrt-$OPENWRT_RELEASE-x86-64.box"
work=${WORK:-/var/tmp/openwrt-box-$OPENWRT_RELEASE}
root="$work/root"

if [ -s "$box" ]; then
	echo "box: $box is there (remove it to make it again)"
	exit 0
fi

image=$(openwrt_fetch "openwrt-$OPENWRT_RELEASE-x86-64-generic-ext4-combined\\.img\\.gz" "$work")
# OpenWrt pads its images after the gzip stream: gunzip warns of trailing garbage and exits with 2.
gunzip -c "$image" > "$work/disk.img" || [ $? -eq 2 ]
truncate -s 1G "$work/disk.img"
# The root file system is the second partition, the last: it takes the rest of the disk.
echo ', +' | sfdisk --quiet --no-reread -N 2 "$work/disk.img"
read -r start sectors < <(partx --noheadings --raw -n 2 -o START,SECTORS "$work/disk.img")
loop=$(losetup --find --show --offset $((start * 512)) --sizelimit $((sectors * 512)) "$work/disk.img")
mkdir -p "$root"
cleanup() {
	if [ -n "$loop" ]; then
		umount "$root" 2> /dev/null || true
		losetup -d "$loop"
	fi
}
trap cleanup EXIT
e2fsck -f -y "$loop" || [ $? -le 1 ]
resize2fs "$loop"
mount "$loop" "$root"

install -d -m 700 "$root/etc/dropbear"
printf '%s\n' "$VAGRANT_KEYS" > "$root/etc/dropbear/authorized_keys"
chmod 600 "$root/etc/dropbear/authorized_keys"
install -m 755 "$REPO/vagrant/box-uci-defaults.sh" "$root/etc/uci-defaults/10-vagrant-box"
umount "$root"
losetup -d "$loop"
loop=

qemu-img convert -f raw -O qcow2 "$work/disk.img" "$work/box.img"
echo '{"provider": "libvirt", "format": "qcow2", "virtual_size": 1}' > "$work/metadata.json"
tar -C "$work" -czf "$box.new" metadata.json box.img
chown --reference="$PUBLISH" "$box.new"
mv "$box.new" "$box"
rm -f "$work/disk.img" "$work/box.img"
echo "box: made $box"
