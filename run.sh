#!/usr/bin/env bash
# Sets up the checkout (first run only) and runs the Orders service with its dashboard on
# the embedded SQLite store, at http://127.0.0.1:8000 (ORDERS_* variables configure it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/python -m apps.orders "$@"
