#!/bin/bash
# The sdk machine's build, as the user vagrant (OpenWrt's build refuses root): the release's SDK for
# x86-64, every package under openwrt/ built into a local feed, and that feed published in
# /srv/hotspot-feed/RELEASE/ with its index, the key it is signed with and the names to install.
#
# The packages are found by their Makefiles (any Makefile under openwrt/ that calls BuildPackage) and
# reach the SDK through feeds.conf as `src-link hotspot`, then `scripts/feeds update/install` and
# `make package/NAME/compile` for each, `make package/index` for the index.
set -euo pipefail

REPO=${REPO:-/vagrant}
PUBLISH=${PUBLISH:-/srv/hotspot-feed}
# shellcheck source=vagrant/release.sh
. "$REPO/vagrant/release.sh"

work="$HOME/openwrt-$OPENWRT_RELEASE"
sdk="$work/sdk"
feed="$work/hotspot-feed"
# openwrt/Makefile takes its sources from the repository it sits in; from a feed of links it is told.
export HOTSPOT_SRC="$REPO"

log() { echo "sdk: $*"; }

unpack_sdk() {
	local tarball
	tarball=$(openwrt_fetch 'openwrt-sdk-.*-x86-64_.*\.Linux-x86_64\.tar\.(zst|xz)' "$work/dl")
	if [ "$(cat "$sdk/.unpacked-from" 2> /dev/null)" != "${tarball##*/}" ]; then
		log "unpacking ${tarball##*/}"
		rm -rf "$sdk" && mkdir -p "$sdk"
		tar -xf "$tarball" -C "$sdk" --strip-components=1
		echo "${tarball##*/}" > "$sdk/.unpacked-from"
	fi
}

# Every directory under openwrt/ whose Makefile makes an OpenWrt package.
package_dirs() {
	find -L "$REPO/openwrt" -maxdepth 3 -name Makefile -print0 |
		xargs -0 grep -lE 'call (BuildPackage|KernelPackage)' | xargs -n 1 dirname | sort
}

# holds_package PATH DIR...: whether PATH is one of the package directories DIR or holds one.
holds_package() {
	local path=$1 dir
	shift
	for dir; do
		[[ $dir == "$path" || $dir == "$path"/* ]] && return 0
	done
	return 1
}

# The feed is a directory of links, one per package directory. OpenWrt's scan indexes the packages in
# a feed's subdirectories only, and openwrt/ holds a package at its top (openwrt/Makefile): that one
# gets a directory of its own, linking every entry but the subdirectories that hold packages.
make_feed() {
	local dirs dir name entry
	mapfile -t dirs < <(package_dirs)
	[ "${#dirs[@]}" -gt 0 ] || {
		echo "sdk: no Makefile under $REPO/openwrt makes a package" >&2
		return 1
	}
	rm -rf "$feed" && mkdir -p "$feed"
	for dir in "${dirs[@]}"; do
		if [ "$dir" = "$REPO/openwrt" ]; then
			name=$(sed -n 's/^PKG_NAME[[:space:]]*:*=[[:space:]]*//p' "$dir/Makefile" | head -n 1)
			mkdir "$feed/$name"
			for entry in "$dir"/*; do
				holds_package "$entry" "${dirs[@]}" || ln -s "$entry" "$feed/$name/"
			done
		else
			ln -s "$dir" "$feed/${dir##*/}"
		fi
		log "package directory ${dir#"$REPO"/}"
	done
}

build() {
	local name link
	cd "$sdk"
	{
		grep -v '^src-link hotspot ' feeds.conf.default || true
		echo "src-link hotspot $feed"
	} > feeds.conf
	./scripts/feeds update -a
	./scripts/feeds install -a -p hotspot
	# Every binary package of the feed, selected as a module.
	./scripts/feeds list -r hotspot | awk '{ print $1 }' > "$work/feed-packages"
	while read -r name; do
		echo "CONFIG_PACKAGE_$name=m"
	done < "$work/feed-packages" >> .config
	make defconfig > /dev/null
	for link in package/feeds/hotspot/*; do
		name=${link##*/}
		log "make package/$name/compile"
		make "package/$name/compile" -j"$(nproc)" || make "package/$name/compile" -j1 V=s
	done
	make package/index
}

# The built packages, the feed's index, the key that signs it and names.txt (what the router installs:
# every package built, without the sources packages) in PUBLISH/RELEASE, replaced whole.
publish() {
	local out dest name key
	out=$(echo "$sdk"/bin/packages/*/hotspot)
	[ -d "$out" ] || {
		echo "sdk: nothing was built into $out" >&2
		return 1
	}
	dest="$PUBLISH/$OPENWRT_RELEASE"
	rm -rf "$dest.new" && mkdir -p "$dest.new"
	cp -a "$out"/. "$dest.new"/
	case $(openwrt_format) in
	ipk) key="$sdk/key-build.pub" ;;
	apk) key="$sdk/public-key.pem" ;;
	esac
	cp "$key" "$dest.new/"
	while read -r name; do
		case $name in *-src) continue ;; esac
		if compgen -G "$out/${name}_*.ipk" > /dev/null || compgen -G "$out/${name}-[0-9]*.apk" > /dev/null; then
			echo "$name"
		fi
	done < "$work/feed-packages" > "$dest.new/names.txt"
	[ -s "$dest.new/names.txt" ] || {
		echo "sdk: no package of the feed was built" >&2
		return 1
	}
	# A package whose dependencies the feeds lack is dropped by `make defconfig` without a word.
	grep -vxF -f "$dest.new/names.txt" "$work/feed-packages" | grep -v -- '-src$' |
		sed 's/^/sdk: not built (see the build log): /' >&2 || true
	rm -rf "$dest" && mv "$dest.new" "$dest"
	log "published $dest: $(tr '\n' ' ' < "$dest/names.txt")"
}

main() {
	mkdir -p "$work"
	unpack_sdk
	make_feed
	build
	publish
}

# Sourced (tests/openwrt/test_vagrant.py), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main
fi
