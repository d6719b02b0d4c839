#!/bin/bash
# The lab machine (Debian 12, as root): what `make demo` and `make test` need, installed by the
# repository's own `make setup`, and the demo's pages reachable from the host.
#
# The demo serves each client's page on the machine's loopback (127.0.0.1:8080-8082, lab/forward.py),
# which a forwarded port cannot reach: it arrives on the machine's own address. A systemd socket on
# port P + 10000 relays each to its loopback port (systemd-socket-proxyd), and the Vagrantfile forwards
# the host's 127.0.0.1:P there.
set -euo pipefail

REPO=${REPO:-/vagrant}
DEMO_PORTS=(8080 8081 8082)

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq make > /dev/null
make -C "$REPO" setup

units=()
for port in "${DEMO_PORTS[@]}"; do
	unit="hotspot-demo-$port"
	cat > "/etc/systemd/system/$unit.socket" << UNIT
[Unit]
Description=The hotspot demo's page on port $port, for the host

[Socket]
ListenStream=$((port + 10000))

[Install]
WantedBy=sockets.target
UNIT
	cat > "/etc/systemd/system/$unit.service" << UNIT
[Unit]
Description=Relays to the hotspot demo's page on 127.0.0.1:$port

[Service]
ExecStart=/lib/systemd/systemd-socket-proxyd 127.0.0.1:$port
UNIT
	units+=("$unit.socket")
done
systemctl daemon-reload
systemctl enable --now "${units[@]}"

cat << 'DONE'
lab: ready. Inside the machine (vagrant ssh lab), as root:
  sudo make -C /vagrant demo     # its pages: http://127.0.0.1:8080/ (and :8081, :8082) on the host
  sudo make -C /vagrant test
After editing on the host: vagrant rsync lab (or keep `vagrant rsync-auto lab` running).
DONE
