#!/usr/bin/env bash
# ansible-test sanity on a real copy of the collection (ansible-test refuses the checkout's
# collections/ansible_collections/edge/enos symlink): the Galaxy tarball is built, installed
# into a scratch collections path, and tested there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${ENOS_VENV:-$ROOT/.venv}/bin
WORK=$(mktemp -d /tmp/edge-enos-sanity.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

pip_version=$(grep -oP "pip='\K[0-9.]+" "$("$BIN/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cp scripts/get_pip_offline.py "$cache"

"$BIN/ansible-galaxy" collection build --force --output-path "$WORK" . >/dev/null
(cd "$WORK" && "$BIN/ansible-galaxy" collection install --force --offline --no-deps -p "$WORK/collections" \
    "$WORK"/edge-enos-*.tar.gz >/dev/null)
cd "$WORK/collections/ansible_collections/edge/enos"
git init -q && git add -A   # ansible-test lists the files through git
"$BIN/ansible-test" sanity --python "$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --requirements --color no "$@"
