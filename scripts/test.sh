#!/usr/bin/env bash
# Install what is missing, then run podnet's whole test suite (root tests need root).
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/unit -x
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install.sh" --with-test-tools
cd "$repo"
set +e
"$repo/.venv/bin/python" -m pytest -p no:cacheprovider "${@:-tests}"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "podnet test: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
