#!/usr/bin/env bash
# A complete local experiment on the default topology: three sites on this machine, a real
# OpenStack (Kolla-Ansible), real WAN delays between the sites, measured and reported.
set -euo pipefail
cd "$(dirname "$0")/.."
TOPOLOGY=${TOPOLOGY:-inventories/local.yml}
ENOS=.venv/bin/enos
export PATH="$PWD/.venv/bin:$PATH"

$ENOS check -f "$TOPOLOGY"
$ENOS deploy -f "$TOPOLOGY"
$ENOS tc
$ENOS tc --test
$ENOS info
if [ -f playbooks/backup.yml ]; then $ENOS backup; fi
echo
echo "experiment done: reports in $(readlink -f current)/reports"
echo "remove it all with: .venv/bin/enos destroy --hard"
