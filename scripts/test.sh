#!/usr/bin/env bash
# The test suite. `quick`: unit tests (no Docker, no UML). Default: in order of cost, unit,
# collection quality (Galaxy build, sanity, lint), netem lab (UML), local testbed and roles
# (Docker, Molecule, monitoring, backup, report, network events).
# `testbeds`: the longer proofs on testbeds of their own, kept out of the default run to hold
# its time budget: the Vagrant provider (docker backend) and Rally on a local testbed.
# `e2e`: the end-to-end deployment of the complete OpenStack (tests/e2e), which does not fit the
# default run's budget on a 2-core machine (image push and pull, a 20-minute Kolla deploy).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mode=${1:-full}
args=(-p no:cacheprovider -ra --durations=15)
testbeds=(tests/integration/test_vagrant_docker.py tests/integration/test_bench.py)
case "$mode" in
  quick) exec python -m pytest "${args[@]}" tests/unit ;;
  testbeds) exec python -m pytest "${args[@]}" "${testbeds[@]}" ;;
  e2e) exec python -m pytest "${args[@]}" tests/e2e ;;
esac
deselect=()
for t in "${testbeds[@]}"; do deselect+=(--ignore "$t"); done
exec python -m pytest "${args[@]}" "${deselect[@]}" tests/unit tests/quality tests/netem tests/integration
