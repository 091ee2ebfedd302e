#!/usr/bin/env bash
# The test command (what CI runs): set-up, then every check in order, stopping at the first failure.
#
#   bash scripts/test.sh                        everything below
#   bash scripts/test.sh --only suite-3.11,ha-newest   only those steps (after the bootstrap)
#
# Steps:
#   bootstrap     scripts/bootstrap.sh: venvs, Mosquitto, Node.js, compiler (quick when done)
#   lint          ruff check . and ruff format --check .
#   types         mypy (strict): bridge, core and tests/support (.venv)
#   suite-3.11    pytest tests/unit tests/integration on Python 3.11 (the oldest supported)
#   suite-3.13    the same on Python 3.13 (Debian 13's Python, and Home Assistant's)
#   benchmark     benchmarks/run.py --profile short (fails only if it cannot run)
#   ha            mypy custom_components and pytest tests/ha on Home Assistant 2025.4.4 (.venv-ha)
#   ha-newest     pytest tests/ha on Home Assistant 2026.10.4 / Python 3.14, in the Debian sid
#                 chroot of ../shared/tools/ha-newest (where that tool exists and we are root)
#
# A suite step needs its Python: bootstrap installs 3.13 when missing; 3.11 runs where the machine
# has it (Debian 13 has none to install). ECONNECT_REQUIRE_PYTHONS="3.11 3.13" makes a missing one
# fail instead of being reported. ECONNECT_SKIP_HA=1 skips the Home Assistant steps on purpose (and
# says so); otherwise a missing Python 3.13 fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SUITE_PYTHONS=("3.11" "3.13")
ALL_STEPS="lint types suite-3.11 suite-3.13 benchmark ha ha-newest"
ONLY=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --only)
      [ "$#" -ge 2 ] || { echo "test: --only needs a comma-separated list of steps" >&2; exit 2; }
      ONLY="${2//,/ }"
      shift 2
      ;;
    -h | --help)
      sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'test: unknown argument %q (try --help)\n' "$1" >&2
      exit 2
      ;;
  esac
done
for name in $ONLY; do
  case " $ALL_STEPS " in
    *" $name "*) ;;
    *) printf 'test: unknown step %q (steps: %s)\n' "$name" "$ALL_STEPS" >&2; exit 2 ;;
  esac
done

# True when the step is selected (every step when --only was not given).
wanted() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

started=$SECONDS
done_steps=()

step() { printf '\n==> test: %s\n' "$*"; }
fail() {
  printf '\ntest: FAILED at step "%s" after %s s\n' "$1" "$((SECONDS - started))" >&2
  shift
  [ "$#" -gt 0 ] && printf 'test: %s\n' "$@" >&2
  exit 1
}
passed() {
  done_steps+=("$1")
  printf 'test: %s passed\n' "$1"
}
loud() {
  printf '\ntest: ############################################################\n'
  printf 'test: %s\n' "$@"
  printf 'test: ############################################################\n'
}

# Runs pytest with the given python and arguments; exit 5 (nothing collected) is a failure.
run_pytest() {
  local label="$1" rc=0
  shift
  "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    fail "$label" "pytest collected no tests: the test tree or its imports are broken"
  elif [ "$rc" -ne 0 ]; then
    fail "$label" "pytest exited with code $rc"
  fi
}

step "bootstrap"
skip_ha_venv="${ECONNECT_SKIP_HA:-0}"
wanted ha || skip_ha_venv=1 # .venv-ha serves the "ha" step only
suite_pythons=""
for minor in "${SUITE_PYTHONS[@]}"; do
  wanted "suite-$minor" && suite_pythons="$suite_pythons $minor"
done
ECONNECT_SKIP_HA="$skip_ha_venv" ECONNECT_SUITE_PYTHONS="${suite_pythons# }" \
  bash scripts/bootstrap.sh \
  || fail "bootstrap" "the set-up failed; see the bootstrap messages above"
passed "bootstrap"

BIN=".venv/bin"

if wanted lint; then
  step "ruff check ."
  "$BIN/ruff" check . || fail "ruff check" "fix the lint errors above (.venv/bin/ruff check --fix . fixes some)"
  step "ruff format --check ."
  "$BIN/ruff" format --check . || fail "ruff format" "run: .venv/bin/ruff format ."
  passed "lint"
fi

if wanted types; then
  step "mypy bridge core tests/support (.venv)"
  "$BIN/mypy" bridge core tests/support || fail "mypy" "fix the type errors above"
  passed "types"
fi

# The venv that holds the suite for one Python: .venv when it is that version, else .venv-pyX.Y.
suite_venv() {
  local minor="$1"
  if [ "$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$minor" ]; then
    printf '.venv\n'
  elif [ -x ".venv-py$minor/bin/python" ]; then
    printf '.venv-py%s\n' "$minor"
  fi
}

for minor in "${SUITE_PYTHONS[@]}"; do
  wanted "suite-$minor" || continue
  venv="$(suite_venv "$minor")"
  if [ -z "$venv" ]; then
    case " ${ECONNECT_REQUIRE_PYTHONS:-} " in
      *" $minor "*) fail "suite-$minor" "Python $minor is required here (ECONNECT_REQUIRE_PYTHONS) and bootstrap found none" ;;
    esac
    loud "the bridge's suite did NOT run on Python $minor: this machine has no Python $minor" \
      "(Debian 13 packages none; .ci/run runs that suite on a host that has it)"
    continue
  fi
  step "pytest tests/unit tests/integration on Python $minor ($venv)"
  run_pytest "suite-$minor" "$venv/bin/python" -m pytest -p no:cacheprovider
  passed "suite-$minor"
done

# The benchmark's short profile (< 1 min): proves it still runs. It fails only when it cannot
# run (exit 1), never on its numbers: those are read, in docs/performance.md.
if wanted benchmark; then
  step "benchmark, short profile (benchmarks/run.py --profile short)"
  "$BIN/python" benchmarks/run.py --profile short \
    || fail "benchmark" "the benchmark could not run; its messages above say why"
  passed "benchmark"
fi

if ! wanted ha; then
  :
elif [ ! -d tests/ha ]; then
  printf '\ntest: tests/ha does not exist: no Home Assistant tests to run\n'
elif [ "${ECONNECT_SKIP_HA:-0}" = "1" ]; then
  loud "Home Assistant tests SKIPPED because ECONNECT_SKIP_HA=1"
else
  # The integration is typed against Home Assistant itself, which only .venv-ha has.
  step "mypy custom_components (.venv-ha)"
  .venv-ha/bin/mypy custom_components || fail "mypy custom_components" "fix the type errors above"
  passed "mypy custom_components"

  step "pytest tests/ha (Home Assistant, .venv-ha)"
  [ -x .venv-ha/bin/python ] \
    || fail "pytest tests/ha" ".venv-ha is missing: run bash scripts/bootstrap.sh (needs Python 3.13)"
  # tests/ha/pytest.ini sets asyncio "auto" mode as HA's harness expects; HA's pytest (8.3) would
  # only *skip* an async test that no plugin runs: make that an error. Coverage floors: 95% for
  # the integration, 100% for its config flow (checked just below).
  run_pytest "pytest tests/ha" .venv-ha/bin/python -m pytest -c tests/ha/pytest.ini tests/ha \
    -W error::pytest.PytestUnhandledCoroutineWarning \
    --cov=custom_components.econnect_identities --cov-report=term-missing:skip-covered \
    --cov-fail-under=95
  .venv-ha/bin/python -m coverage report --fail-under=100 \
    --include='custom_components/econnect_identities/config_flow.py' \
    || fail "config flow coverage" "config_flow.py must be 100% covered by tests/ha"
  passed "ha"
fi

# The newest Home Assistant needs Python 3.14, which Debian 12 and 13 lack: ha-newest runs the
# same tests in a Debian sid chroot (HA 2026.10.4). Where it cannot run, say so.
HA_NEWEST="$ROOT/../shared/tools/ha-newest"
if ! wanted ha-newest || [ "${ECONNECT_SKIP_HA:-0}" = "1" ] || [ ! -d tests/ha ]; then
  :
elif [ -f "$HA_NEWEST" ] && [ "$(id -u)" = "0" ]; then
  step "pytest tests/ha on the newest Home Assistant (ha-newest: Python 3.14, HA 2026.10.4)"
  # PyTurboJPEG: HA's camera component imports it, and the harness does not install it;
  # jsonschema: the tests validate payloads against the JSON Schema (as .venv-ha pins it).
  # (Its pytest 9 fails an async test that no plugin runs by itself: no -W flag needed.)
  bash "$HA_NEWEST" -- bash -c 'pip install -q -e . PyTurboJPEG==1.8.3 "jsonschema>=4.20" \
      && python -m pytest -c tests/ha/pytest.ini tests/ha -p no:cacheprovider' \
    || fail "newest Home Assistant" "the HA tests failed on HA 2026.10.4 (see above)"
  passed "ha-newest"
elif [ -n "$ONLY" ]; then
  fail "ha-newest" "asked for by --only, but it needs root and $HA_NEWEST"
else
  loud "newest Home Assistant NOT tested here: needs root and $HA_NEWEST" \
    "(.ci/run runs it on the host; the GitHub workflow ha.yml runs it on Python 3.14)"
fi

printf '\ntest: ALL PASSED in %s s (%s)\n' "$((SECONDS - started))" "$(IFS=,; printf '%s' "${done_steps[*]}" | sed 's/,/, /g')"
