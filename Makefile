# The README's commands. Everything runs as root on Debian 12; `setup` installs what is missing, quietly.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
include openwrt/tools.mk
APT_PACKAGES := nftables python3-nftables python3-venv iperf3 dnsmasq-base iproute2 busybox \
                iputils-ping curl procps \
                python3-flask gunicorn python3-dbusmock dbus-daemon \
                chromium chromium-driver python3-selenium python3-babel openssl fonts-noto-cjk \
                python3-aiosmtpd python3-scapy isc-dhcp-client prometheus freeradius freeradius-utils \
                $(OPENWRT_APT_PACKAGES)
PIP_PACKAGES := pytest pytest-xdist ruff pyrad==2.6.0 $(OPENWRT_PIP_PACKAGES)

.PHONY: setup demo test lint bench clean translations web-vendor uci-sample

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml Makefile openwrt/tools.mk
	@install() { flags=$$1; shift; \
	    missing=$$(for p in "$$@"; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || echo $$p; done); \
	    [ -z "$$missing" ] && return; echo "setup: installing" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$flags $$missing >/dev/null; }; \
	install "" $(APT_PACKAGES) && install --no-install-recommends $(OPENWRT_APT_NO_RECOMMENDS)
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	@# --ignore-installed: the tools go into the venv even if the system Python has its own copies
	@$(PY) -m pip install -q --disable-pip-version-check --ignore-installed $(PIP_PACKAGES)
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

lint: setup
	$(PY) -m ruff check .

# Two runs side by side: the lab's tests, which mostly wait on traffic and timers, and the rest (unit,
# openwrt, then the browser's pages on labs of their own): the suite takes the lab's time, not the
# sum. The second run's report follows the lab's.
test: setup lint
	@mkdir -p .artifacts; \
	$(PY) -m pytest -q -p no:cacheprovider --durations=10 tests/unit tests/openwrt tests/browser \
	    > .artifacts/test-other.log 2>&1 & other=$$!; \
	$(PY) -m pytest -q --durations=20 -n 2 --dist loadfile tests/lab; lab=$$?; \
	wait $$other; other=$$?; echo "--- tests/unit tests/openwrt tests/browser"; cat .artifacts/test-other.log; \
	[ $$lab -eq 0 ] && [ $$other -eq 0 ]

demo: setup
	$(PY) -m lab.demo

bench: setup
	$(PY) -m tests.bench.run

# The shipped /etc/config/hotspot, made from the options each capability declares (hotspot/*/options.py);
# tests/unit/core/test_config.py fails while the committed file differs.
uci-sample: setup
	$(PY) -m hotspot.config --uci-sample > openwrt/files/hotspot.config

# Build time only (Babel): refresh the catalogue from the code and templates, merge it into each language
# and compile the .mo files the portal reads with the stdlib gettext. Commit all three.
TRANSLATIONS := web/translations
translations:
	pybabel extract -F $(TRANSLATIONS)/babel.cfg -k _ -k gettext -k ngettext:1,2 -k N_ --no-location --sort-output \
	    --project=hotspot --copyright-holder="hotspot" -o $(TRANSLATIONS)/messages.pot .
	pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l zh_CN --no-fuzzy-matching --ignore-obsolete
	pybabel compile -d $(TRANSLATIONS) -l zh_CN --statistics

# Build time only (npm): the browser libraries the portal serves, pinned, committed under web/static/vendor/
# with their licence. The router runs no node: these are static files.
VENDOR := web/static/vendor
QRCODE_GENERATOR := 2.0.4
web-vendor:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent qrcode-generator@$(QRCODE_GENERATOR) >/dev/null && tar xzf qrcode-generator-$(QRCODE_GENERATOR).tgz) && \
	mkdir -p $(VENDOR)/qrcode-generator && \
	cp "$$tmp/package/dist/qrcode.js" "$$tmp/package/package.json" $(VENDOR)/qrcode-generator/ && \
	{ sed -n '2,13p' "$$tmp/package/dist/qrcode.js" | sed 's|^//||; s|^ ||'; echo; cat $(VENDOR)/MIT.txt; } \
	    > $(VENDOR)/qrcode-generator/LICENSE && \
	echo "web-vendor: qrcode-generator $(QRCODE_GENERATOR) in $(VENDOR)/qrcode-generator"

clean:
	rm -rf $(VENV) *.egg-info
