#!/usr/bin/env bash
# The demo: an embedded MQTT broker, the engine emulator and the bridge, with no set-up.
# Only the main venv is needed (no Mosquitto, no Home Assistant). Arguments go to
# `econnect-bridge demo` (try: bash scripts/demo.sh --help).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh" --main-only
exec "$ROOT/.venv/bin/econnect-bridge" demo "$@"
