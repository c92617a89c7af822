#!/usr/bin/env bash
# The test suite. `quick`: unit tests (no Docker, no UML). Default: in order of cost, unit,
# collection quality (Galaxy build, sanity, lint), netem lab (UML), local testbed and roles
# (Docker, Molecule, monitoring, backup, report, network events), end-to-end deployment.
# `testbeds`: the longer proofs on testbeds of their own, kept out of the default run to hold
# its time budget: the Vagrant provider (docker backend) and Rally on a local testbed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mode=${1:-full}
args=(-p no:cacheprovider -ra --durations=15)
testbeds=(tests/integration/test_vagrant_docker.py tests/integration/test_bench.py)
case "$mode" in
  quick) exec python -m pytest "${args[@]}" tests/unit ;;
  testbeds) exec python -m pytest "${args[@]}" "${testbeds[@]}" ;;
esac
deselect=()
for t in "${testbeds[@]}"; do deselect+=(--ignore "$t"); done
exec python -m pytest "${args[@]}" "${deselect[@]}" tests/unit tests/quality tests/netem tests/integration tests/e2e
