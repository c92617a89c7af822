#!/usr/bin/env bash
# The test suite. `quick`: unit tests (no Docker, no UML). Default: everything, in order of
# cost: unit, collection quality (Galaxy build, sanity, lint), netem lab (UML), local testbed
# and roles (Docker, Molecule), end-to-end deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mode=${1:-full}
args=(-p no:cacheprovider -ra --durations=15)
if [ "$mode" = quick ]; then
  exec python -m pytest "${args[@]}" tests/unit
fi
exec python -m pytest "${args[@]}" tests/unit tests/quality tests/netem tests/integration tests/e2e
