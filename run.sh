#!/usr/bin/env bash
# Sets up the checkout (first run only) and runs the demonstration on the embedded SQLite store.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/setup.sh"
exec "$root/.venv/bin/python" "$root/examples/quickstart.py" "$@"
