# The README's commands. Everything runs as root on Debian 12; `setup` installs what is missing, quietly.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := nftables python3-nftables python3-venv iperf3 dnsmasq-base iproute2 busybox \
                iputils-ping curl procps \
                python3-flask gunicorn python3-pyroute2 \
                chromium chromium-driver python3-selenium python3-babel
PIP_PACKAGES := pytest ruff

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "setup: installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	@# --ignore-installed: the tools go into the venv even if the system Python has its own copies
	@$(PY) -m pip install -q --disable-pip-version-check --ignore-installed $(PIP_PACKAGES)
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

lint: setup
	$(PY) -m ruff check .

test: setup lint
	$(PY) -m pytest -q tests/unit tests/lab

demo: setup
	$(PY) -m hotspot.lab.demo

bench: setup
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) *.egg-info
