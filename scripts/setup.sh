#!/usr/bin/env bash
# Prepare this machine for edge.enos: Debian packages, a running Docker engine, the project's
# virtualenv (.venv) with the driver installed, and the collections it needs.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io user-mode-linux iperf3 fping debootstrap iproute2 kmod iputils-ping
              traceroute openssh-client openssh-server skopeo docker-registry rsync python3-venv ca-certificates make
              shellcheck vagrant vagrant-libvirt influxdb chromium fonts-dejavu-core)
# influxdb: `enos backup --verify` restores the metrics into a throw-away influxd;
# chromium: the report is checked in a real (headless) browser
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# No systemd here: start dockerd ourselves when no engine answers.
if ! docker info >/dev/null 2>&1; then
  echo "setup: no Docker engine answers; starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start, see /var/log/dockerd.log" >&2; exit 1; }
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.edge-enos-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv (pyproject.toml)"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e ".[collections,test]"
  touch "$stamp"
fi
ansible_version=$(.venv/bin/ansible --version)
echo "setup: ready (${ansible_version%%$'\n'*}, $(docker version -f 'docker {{.Server.Version}}'))"
