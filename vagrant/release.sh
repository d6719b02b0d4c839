# shellcheck shell=bash
# The OpenWrt release's files for x86-64 on downloads.openwrt.org, for the sdk machine's scripts
# (sourced by sdk-build.sh and box.sh).
#
# A release's target directory is MIRROR/releases/RELEASE/targets/x86/64/. Names are read from its
# sha256sums rather than guessed: the SDK's name carries its compiler (openwrt-sdk-24.10.8-x86-64_gcc-13.3.0_
# musl.Linux-x86_64.tar.zst; gcc-14.3.0 on 25.12) and its compression (.tar.zst since 24.10, .tar.xz
# before); the image is openwrt-RELEASE-x86-64-generic-ext4-combined.img.gz.

OPENWRT_RELEASE=${OPENWRT_RELEASE:?set OPENWRT_RELEASE, e.g. 24.10.8}
OPENWRT_MIRROR=${OPENWRT_MIRROR:-https://downloads.openwrt.org}
OPENWRT_TARGET_URL="$OPENWRT_MIRROR/releases/$OPENWRT_RELEASE/targets/x86/64"

# The release's package format: ipk (opkg) up to 24.10, apk from 25.12 on.
openwrt_format() {
	case $OPENWRT_RELEASE in
	1[0-9].* | 2[0-4].*) echo ipk ;;
	*) echo apk ;;
	esac
}

# openwrt_fetch REGEX DIR: the one file of the target directory whose whole name matches the extended
# regular expression, downloaded into DIR unless a good copy is there, checked against sha256sums;
# prints its path.
openwrt_fetch() {
	local pattern=$1 dir=$2 name line
	mkdir -p "$dir"
	curl -fsSL --retry 3 -o "$dir/sha256sums" "$OPENWRT_TARGET_URL/sha256sums"
	name=$(awk '{ sub(/^\*/, "", $2); print $2 }' "$dir/sha256sums" | grep -E -m 1 "^($pattern)\$") || {
		echo "no file matching $pattern in $OPENWRT_TARGET_URL/sha256sums" >&2
		return 1
	}
	line=$(awk -v n="$name" '$2 == n || $2 == "*" n' "$dir/sha256sums")
	if ! (cd "$dir" && echo "$line" | sha256sum --check --status 2> /dev/null); then
		curl -fSL --retry 3 -o "$dir/$name" "$OPENWRT_TARGET_URL/$name"
		(cd "$dir" && echo "$line" | sha256sum --check --quiet) || {
			echo "$name does not match $OPENWRT_TARGET_URL/sha256sums" >&2
			return 1
		}
	fi
	echo "$dir/$name"
}
