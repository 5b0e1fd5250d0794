#!/usr/bin/env bash
# Install what is missing, then run podnet's whole test suite (root tests need root).
# The suite runs in parallel (pytest-xdist, PODNET_TEST_WORKERS workers, default 4: most root
# tests wait on the kernel and child processes, so 4 keep 2 cores busy). Extra arguments go to
# pytest, e.g.  scripts/test.sh tests/core -x   or   scripts/test.sh tests -n 0 (one process)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install.sh" --with-test-tools
cd "$repo"
workers=${PODNET_TEST_WORKERS:-4}
case "$workers" in ''|*[!0-9]*) echo "podnet test: PODNET_TEST_WORKERS must be a number, not '$workers'" >&2; exit 2;; esac
set +e
"$repo/.venv/bin/python" -m pytest -p no:cacheprovider -n "$workers" --dist loadgroup "${@:-tests}"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "podnet test: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
