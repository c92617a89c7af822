#!/usr/bin/env bash
# A complete local experiment on the default topology, EnOS's whole loop: deploy (three sites on
# this machine, a real OpenStack with Kolla-Ansible), shape the WAN between the sites, measure
# it, benchmark the control plane, pack everything into one tarball and write the report.
set -euo pipefail
cd "$(dirname "$0")/.."
TOPOLOGY=${TOPOLOGY:-inventories/local.yml}
ENOS=.venv/bin/enos
export PATH="$PWD/.venv/bin:$PATH"

# A verb runs when this release has its playbook; otherwise the run says it was left out.
step() {
  local verb=$1
  if [[ "$verb" =~ ^(check|report|info)$ ]] || [ -f "playbooks/$verb.yml" ]; then
    $ENOS "$@"
  else
    echo "experiment: \`enos $verb\` is not in this release: step left out"
  fi
}

step check -f "$TOPOLOGY"
step deploy -f "$TOPOLOGY"
step tc
step tc --test
step bench
step backup
step report
$ENOS info

env_dir=$(readlink -f current)
tarball=$(find "$env_dir/backups" -name '*.tar.gz' 2>/dev/null | sort | tail -n 1 || true)
echo
echo "experiment done:"
echo "  reports: $env_dir/reports"
echo "  report:  $env_dir/reports/report.html"
[ -n "$tarball" ] && echo "  backup:  $tarball (check it with: $ENOS backup --verify $tarball)"
echo "remove it all with: .venv/bin/enos destroy --hard"
