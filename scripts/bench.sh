#!/usr/bin/env bash
# The benchmark (docs/performance.md) in one command: set-up, then benchmarks/run.py.
#
#   bash scripts/bench.sh                    default profile: every scenario, with the Node-RED
#                                            peer, about 7 minutes
#   bash scripts/bench.sh --profile short    about a minute (what scripts/test.sh runs), no Node-RED
#   bash scripts/bench.sh --help             every option (engine latency, capacity, ...)
#
# Needs the main venv and Mosquitto (scripts/bootstrap.sh installs them; the Home Assistant venv
# is not built here) and, for the Node-RED peer (default profile, or --nodered), Node.js and npm:
# when either is missing and this runs as root (or with sudo) on a machine with apt-get, it
# installs Debian's `nodejs` and `npm`; otherwise it says what to install and exits 1. Node-RED
# 4.1 itself is installed once with npm into ~/.cache/econnect-bench/ (outside the repository).
# The table goes to stdout, the JSON to benchmarks/results/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
  printf '\nbench: ERROR: %s\n' "$*" >&2
  exit 1
}

ECONNECT_SKIP_HA=1 bash scripts/bootstrap.sh >&2

# Does this run need the Node-RED peer? The same rule as benchmarks/run.py: yes in the default
# profile, no in the short one, --nodered / --no-nodered decide; --help needs nothing.
nodered=1
prev=""
for arg in "$@"; do
  case "$arg" in
    --profile=short) nodered=0 ;;
    --profile=*) nodered=1 ;;
    short) [ "$prev" = "--profile" ] && nodered=0 ;;
  esac
  prev="$arg"
done
for arg in "$@"; do
  case "$arg" in
    --nodered) nodered=1 ;;
    --no-nodered | -h | --help) nodered=0 ;;
  esac
done

have_node() { command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1; }

# Node.js and npm are installed only when Node-RED is not ready yet (npm is needed once).
if [ "$nodered" -eq 1 ] && ! .venv/bin/python benchmarks/nodered_peer.py --check; then
  if ! have_node || ! command -v npm >/dev/null 2>&1; then
    missing="nodejs npm"
    if ! command -v apt-get >/dev/null 2>&1; then
      die "the Node-RED peer needs Node.js (>= 18) and npm, and apt-get is not here: install them by hand, or run with --profile short (or --no-nodered) to skip Node-RED"
    fi
    if [ "$(id -u)" -eq 0 ]; then
      as_root() { env DEBIAN_FRONTEND=noninteractive "$@"; }
    elif command -v sudo >/dev/null 2>&1; then
      as_root() { sudo env DEBIAN_FRONTEND=noninteractive "$@"; }
    else
      die "the Node-RED peer needs Node.js and npm: run this script as root (or install sudo) so it can apt-get install -y $missing, or install them yourself, or run with --profile short (or --no-nodered) to skip Node-RED"
    fi
    APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
    log "Node.js or npm is missing: apt-get install $missing (for the Node-RED peer)"
    out="$(mktemp)"
    if ! { as_root apt-get "${APT_OPTS[@]}" update \
      && as_root apt-get "${APT_OPTS[@]}" install -y --no-install-recommends nodejs npm; } \
      >"$out" 2>&1; then
      tail -n 30 "$out" >&2
      rm -f "$out"
      die "apt-get install $missing failed: install Node.js and npm, or run with --profile short"
    fi
    rm -f "$out"
    have_node && command -v npm >/dev/null 2>&1 || die "node or npm still not found after apt-get"
  fi
  .venv/bin/python benchmarks/nodered_peer.py --install \
    || die "Node-RED could not be installed (messages above); --profile short runs without it"
fi

exec .venv/bin/python benchmarks/run.py "$@"
