#!/usr/bin/env bash
# Sets up the checkout and the test servers (first run only), then runs the whole test suite.
# Arguments go to pytest, e.g. ./test.sh tests/unit -x
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/setup.sh" --test
cd "$root"
exec .venv/bin/python -m pytest "$@"
