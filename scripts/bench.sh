#!/usr/bin/env bash
# The benchmark (docs/performance.md) in one command: set-up, then benchmarks/run.py.
#
#   bash scripts/bench.sh                    default profile: every scenario, about 4 minutes
#   bash scripts/bench.sh --profile short    under a minute (what scripts/test.sh runs)
#   bash scripts/bench.sh --help             every option (engine latency, capacity, ...)
#
# Needs the main venv and Mosquitto only, so the Home Assistant venv is not built here.
# The table goes to stdout, the JSON to benchmarks/results/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ECONNECT_SKIP_HA=1 bash scripts/bootstrap.sh >&2
exec .venv/bin/python benchmarks/run.py "$@"
