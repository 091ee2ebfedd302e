#!/usr/bin/env bash
# Install everything the demo and the tests need. Idempotent: a second run takes a second or two.
#
#   bash scripts/bootstrap.sh              main venv (.venv), Mosquitto, Home Assistant venv (.venv-ha)
#   bash scripts/bootstrap.sh --main-only  main venv only (what the demo needs)
#
# What it does:
#   .venv        Python >= 3.11 (python3) with `pip install -e '.[dev]'`
#   .venv-py3.X  the same on each other supported Python the machine has (3.11, 3.13), so that
#                the bridge's suite runs on the oldest supported Python and on Home Assistant's;
#                Python 3.13 is installed with apt-get when the machine has none
#   mosquitto    `mosquitto` + `mosquitto-clients` from apt-get when no broker binary is found
#   nodejs       Debian's Node.js, when `node` is missing: the Node-RED function-node tests run it
#   compiler     gcc, g++ and the Python headers, when missing: Home Assistant's pinned harness
#                needs wheels that PyPI has no Python 3.13 build of (ciso8601, lru-dict,
#                pymicro-vad, pyspeex-noise), so pip compiles them
#   .venv-ha     Python 3.13 with Home Assistant's pinned test harness + `pip install -e .`
# Each venv keeps a stamp file (hash of pyproject.toml and of the pins below); pip only runs when
# the stamp is missing or stale.
#
# Environment:
#   ECONNECT_SKIP_HA=1   do not build .venv-ha (scripts/test.sh then says the HA tests were skipped)
#   ECONNECT_SUITE_PYTHONS="3.11"   build .venv-py3.X only for these versions (default 3.11 3.13)
#
# Debian packages are installed with apt-get (as root, or through sudo when not root).
set -Eeuo pipefail

HA_PINS=(
  "homeassistant==2025.4.4"
  "pytest-homeassistant-custom-component==0.13.236"
  "jsonschema>=4.20"
  "pytest-cov>=5"
  "pytest-timeout>=2.3"
  "mypy>=1.13"
)
MAIN_EXTRAS="dev"
# Bump when this script changes how a venv is filled, to force a reinstall everywhere.
STAMP_VERSION="4"
# The Pythons the bridge supports and is tested on: the oldest, and the one Home Assistant runs.
# ECONNECT_SUITE_PYTHONS narrows it (scripts/test.sh --only passes the suites it will run).
read -r -a SUITE_PYTHONS <<<"${ECONNECT_SUITE_PYTHONS-3.11 3.13}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MAIN_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --main-only) MAIN_ONLY=1 ;;
    -h | --help)
      sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'bootstrap: unknown option %q (try --help)\n' "$arg" >&2
      exit 2
      ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
  printf '\nbootstrap: ERROR: %s\n' "$*" >&2
  exit 1
}
warn_loud() {
  printf '\n' >&2
  printf 'bootstrap: ############################################################\n' >&2
  printf 'bootstrap: WARNING: %s\n' "$@" >&2
  printf 'bootstrap: ############################################################\n\n' >&2
}
on_error() {
  local rc=$? line=$1 cmd=$2
  printf '\nbootstrap: FAILED (exit %s) at line %s: %s\n' "$rc" "$line" "$cmd" >&2
  exit "$rc"
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------------------------
# apt-get helpers
# ---------------------------------------------------------------------------------------------
APT_UPDATED=0
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    env DEBIAN_FRONTEND=noninteractive "$@"
  else
    sudo env DEBIAN_FRONTEND=noninteractive "$@"
  fi
}

have_apt() { command -v apt-get >/dev/null 2>&1; }

# Fails unless apt-get exists and we are root or have sudo.
require_apt() {
  have_apt || die "apt-get not found: install $* by hand (this script knows Debian/Ubuntu only)"
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    die "need root to install $* with apt-get: run this script as root, or install sudo"
  fi
}

# Runs a command quietly; on failure shows the end of its output and fails.
run_logged() {
  local out
  out="$(mktemp)"
  if ! "$@" >"$out" 2>&1; then
    printf 'bootstrap: command failed: %s\n--- last lines of its output ---\n' "$*" >&2
    tail -n 30 "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

apt_update_once() {
  [ "$APT_UPDATED" -eq 1 ] && return 0
  require_apt "$@"
  log "apt-get update"
  run_logged as_root apt-get "${APT_OPTS[@]}" update || die "apt-get update failed"
  APT_UPDATED=1
}

apt_install() {
  require_apt "$@"
  apt_update_once "$@"
  log "apt-get install $*"
  run_logged as_root apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@" \
    || die "apt-get install $* failed"
}

# True when apt knows an installable package of that name (needs apt_update_once first).
apt_has() {
  local candidate
  candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# ---------------------------------------------------------------------------------------------
# Python helpers
# ---------------------------------------------------------------------------------------------
# Prints "X.Y" for a working interpreter (pyenv shims that cannot run print nothing).
py_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

# Prints the real executable behind a command (resolves pyenv shims).
py_executable() {
  "$1" -c 'import sys; print(sys.executable)' 2>/dev/null
}

# version_ge X.Y MIN_MINOR: true when X == 3 and Y >= MIN_MINOR
version_ge_3() {
  local major="${1%%.*}" minor="${1#*.}"
  [ "$major" = "3" ] && [ "$minor" -ge "$2" ] 2>/dev/null
}

pyenv_root() {
  if command -v pyenv >/dev/null 2>&1; then
    pyenv root 2>/dev/null && return 0
  fi
  if [ -n "${PYENV_ROOT:-}" ] && [ -d "$PYENV_ROOT" ]; then
    printf '%s\n' "$PYENV_ROOT"
  elif [ -d "${HOME:-/nonexistent}/.pyenv" ]; then
    printf '%s\n' "$HOME/.pyenv"
  fi
}

# Interpreters installed by pyenv for one minor version (e.g. "3.13"), newest first.
pyenv_pythons() {
  local minor="$1" root dir exe
  root="$(pyenv_root || true)"
  [ -n "$root" ] || return 0
  for dir in $(printf '%s\n' "$root"/versions/"$minor".* | sort -rV); do
    for exe in "$dir/bin/python$minor" "$dir/bin/python3"; do
      if [ -x "$exe" ]; then
        printf '%s\n' "$exe"
        break
      fi
    done
  done
}

# True when `python -m venv` can make a venv with pip in it.
# Debian ships `venv` without `ensurepip` until python3-venv (python3.X-venv) is installed.
has_venv_module() {
  "$1" -m venv --help >/dev/null 2>&1 && "$1" -c 'import ensurepip' >/dev/null 2>&1
}

# Installs Debian's venv package for this interpreter when it lacks one.
ensure_venv_module() {
  local py="$1" ver
  has_venv_module "$py" && return 0
  ver="$(py_version "$py")"
  log "$py (Python $ver) has no working venv/ensurepip module: installing it"
  have_apt || die "$py cannot create venvs (no venv/ensurepip module) and apt-get is not available"
  apt_update_once python3-venv
  local pkgs=()
  apt_has python3-venv && pkgs+=(python3-venv)
  apt_has "python$ver-venv" && pkgs+=("python$ver-venv")
  [ "${#pkgs[@]}" -gt 0 ] || die "no Debian package provides the venv module for Python $ver"
  apt_install "${pkgs[@]}"
  has_venv_module "$py" || die "$py still cannot create venvs after installing ${pkgs[*]}"
}

# Stamp: what the venv was last filled from.
stamp_of() {
  local pyproject_hash
  pyproject_hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  printf 'v%s %s %s\n' "$STAMP_VERSION" "$pyproject_hash" "$*"
}

# venv_ok VENV MIN_MINOR EXACT_MINOR: the venv's python runs, has pip, has the right version.
venv_python_ok() {
  local venv="$1" min_minor="$2" exact_minor="${3:-}" ver
  [ -x "$venv/bin/python" ] || return 1
  ver="$(py_version "$venv/bin/python")"
  [ -n "$ver" ] || return 1
  version_ge_3 "$ver" "$min_minor" || return 1
  if [ -n "$exact_minor" ]; then
    [ "$ver" = "3.$exact_minor" ] || return 1
  fi
}

# make_venv VENV PYTHON: (re)creates VENV from PYTHON, installing python3-venv when needed.
make_venv() {
  local venv="$1" py="$2"
  ensure_venv_module "$py"
  rm -rf "$venv"
  log "creating $venv with $py (Python $(py_version "$py"))"
  if ! run_logged "$py" -m venv "$venv"; then
    rm -rf "$venv"
    die "could not create $venv with $py"
  fi
  "$venv/bin/python" -m pip --version >/dev/null 2>&1 || die "$venv has no pip (broken venv module?)"
}

# ---------------------------------------------------------------------------------------------
# 1. The main venv: Python >= 3.11, the project with its dev extras
# ---------------------------------------------------------------------------------------------
find_main_python() {
  local cand exe ver
  for cand in python3 python3.13 python3.12 python3.11; do
    command -v "$cand" >/dev/null 2>&1 || continue
    ver="$(py_version "$cand")"
    if [ -z "$ver" ] || ! version_ge_3 "$ver" 11; then
      continue
    fi
    exe="$(py_executable "$cand")" && [ -n "$exe" ] && {
      printf '%s\n' "$exe"
      return 0
    }
  done
  for exe in $(pyenv_pythons 3.13) $(pyenv_pythons 3.12) $(pyenv_pythons 3.11); do
    [ -n "$(py_version "$exe")" ] && {
      printf '%s\n' "$exe"
      return 0
    }
  done
  return 1
}

setup_main_venv() {
  local venv=".venv" want
  want="$(stamp_of "extras=$MAIN_EXTRAS")"
  if venv_python_ok "$venv" 11 && [ "$(cat "$venv/.bootstrap-stamp" 2>/dev/null || true)" = "$want" ]; then
    log "$venv is up to date"
    return 0
  fi
  if ! venv_python_ok "$venv" 11 || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    local py
    if ! py="$(find_main_python)"; then
      if have_apt && ! command -v python3 >/dev/null 2>&1; then
        apt_install python3 python3-venv
        py="$(find_main_python)" || die "no Python >= 3.11 found even after installing python3"
      else
        local py3ver
        py3ver="$(py_version python3)"
        die "no Python >= 3.11 found (python3 is ${py3ver:-missing}); install Python 3.11 or newer"
      fi
    fi
    make_venv "$venv" "$py"
  fi
  if [ -f "$venv/.bootstrap-stamp" ]; then
    log "pyproject.toml changed: updating $venv"
  fi
  log "installing the project into $venv: pip install -e '.[$MAIN_EXTRAS]'"
  rm -f "$venv/.bootstrap-stamp"
  "$venv/bin/python" -m pip install -q -e ".[$MAIN_EXTRAS]" || die "pip install into $venv failed"
  printf '%s\n' "$want" >"$venv/.bootstrap-stamp"
  log "$venv ready ($("$venv/bin/python" --version 2>&1))"
}

# ---------------------------------------------------------------------------------------------
# 1b. The bridge's suite on every supported Python: .venv is one of them, .venv-py3.X the others
# ---------------------------------------------------------------------------------------------
# Prints an interpreter of exactly one minor version ("3.11"), or fails.
find_python_minor() {
  local minor="$1" exe
  for exe in "$(command -v "python$minor" 2>/dev/null || true)" $(pyenv_pythons "$minor") \
    "/usr/bin/python$minor" "/usr/local/bin/python$minor"; do
    if [ -n "$exe" ] && [ -x "$exe" ] && [ "$(py_version "$exe")" = "$minor" ]; then
      py_executable "$exe"
      return 0
    fi
  done
  return 1
}

# Debian packages Python 3.13 (trixie's own python3; bookworm has none, pyenv users have one):
# 3.11 is only where the machine has it. scripts/test.sh says which ran.
install_python_minor() {
  local minor="$1"
  have_apt || return 1
  apt_update_once "python$minor"
  apt_has "python$minor" || return 1
  local pkgs=("python$minor")
  apt_has "python$minor-venv" && pkgs+=("python$minor-venv")
  apt_install "${pkgs[@]}"
}

setup_suite_venvs() {
  local minor main_ver venv py want
  main_ver="$(py_version .venv/bin/python)"
  for minor in "${SUITE_PYTHONS[@]}"; do
    [ "$minor" = "$main_ver" ] && continue
    venv=".venv-py$minor"
    want="$(stamp_of "extras=$MAIN_EXTRAS")"
    if venv_python_ok "$venv" 11 "${minor#3.}" \
      && [ "$(cat "$venv/.bootstrap-stamp" 2>/dev/null || true)" = "$want" ]; then
      log "$venv is up to date"
      continue
    fi
    if ! py="$(find_python_minor "$minor")"; then
      install_python_minor "$minor" || true
      if ! py="$(find_python_minor "$minor")"; then
        log "no Python $minor on this machine (nor from apt-get): the suite runs without it"
        continue
      fi
    fi
    make_venv "$venv" "$py"
    log "installing the project into $venv: pip install -e '.[$MAIN_EXTRAS]'"
    "$venv/bin/python" -m pip install -q -e ".[$MAIN_EXTRAS]" || die "pip install into $venv failed"
    printf '%s\n' "$want" >"$venv/.bootstrap-stamp"
    log "$venv ready ($("$venv/bin/python" --version 2>&1))"
  done
}

# ---------------------------------------------------------------------------------------------
# 1c. Node.js: the Node-RED example's function nodes are run in it by the tests
# ---------------------------------------------------------------------------------------------
setup_nodejs() {
  if command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1; then
    log "Node.js is installed"
    return 0
  fi
  log "Node.js is missing: installing Debian's nodejs (the Node-RED function-node tests run it)"
  apt_install nodejs
  command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1 \
    || die "node still not found after apt-get install nodejs"
}

# ---------------------------------------------------------------------------------------------
# 1d. A C/C++ compiler and the Python headers for the interpreter of .venv-ha
# ---------------------------------------------------------------------------------------------
has_python_headers() {
  "$1" -c 'import os, sysconfig; raise SystemExit(not os.path.exists(
    os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null
}

# Home Assistant's pinned harness needs ciso8601, lru-dict, pymicro-vad and pyspeex-noise, which
# PyPI has no Python 3.13 wheel of: pip builds them with gcc/g++ against Python.h.
ensure_build_tools() {
  local py="$1" ver pkgs=()
  ver="$(py_version "$py")"
  command -v gcc >/dev/null 2>&1 || pkgs+=(gcc)
  command -v g++ >/dev/null 2>&1 || pkgs+=(g++)
  if ! has_python_headers "$py"; then
    apt_update_once "python$ver-dev"
    if apt_has "python$ver-dev"; then
      pkgs+=("python$ver-dev")
    else
      die "$py has no Python.h and apt-get has no python$ver-dev: install Python $ver's headers"
    fi
  fi
  [ "${#pkgs[@]}" -eq 0 ] && return 0
  log "installing ${pkgs[*]}: pip compiles Home Assistant's harness wheels for Python $ver"
  apt_install "${pkgs[@]}"
}

# ---------------------------------------------------------------------------------------------
# 2. Mosquitto (the integration tests start their own brokers on free loopback ports)
# ---------------------------------------------------------------------------------------------
have_mosquitto() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }

setup_mosquitto() {
  if have_mosquitto; then
    if ! command -v mosquitto_pub >/dev/null 2>&1 && have_apt; then
      apt_install mosquitto-clients
    fi
    log "mosquitto is installed"
    return 0
  fi
  apt_install mosquitto mosquitto-clients
  have_mosquitto || die "mosquitto still not found after apt-get install"
  log "mosquitto installed"
}

# ---------------------------------------------------------------------------------------------
# 3. The Home Assistant venv: Python 3.13, HA's test harness, the project (no dev extras)
# ---------------------------------------------------------------------------------------------
find_python313() {
  local exe
  if command -v python3 >/dev/null 2>&1 && [ "$(py_version python3)" = "3.13" ]; then
    py_executable python3 && return 0
  fi
  if command -v python3.13 >/dev/null 2>&1 && [ "$(py_version python3.13)" = "3.13" ]; then
    py_executable python3.13 && return 0
  fi
  for exe in $(pyenv_pythons 3.13); do
    if [ "$(py_version "$exe")" = "3.13" ]; then
      printf '%s\n' "$exe"
      return 0
    fi
  done
  for exe in /usr/bin/python3.13 /usr/local/bin/python3.13; do
    if [ -x "$exe" ] && [ "$(py_version "$exe")" = "3.13" ]; then
      printf '%s\n' "$exe"
      return 0
    fi
  done
  return 1
}

setup_ha_venv() {
  local venv=".venv-ha" want
  if [ "${ECONNECT_SKIP_HA:-0}" = "1" ]; then
    log "ECONNECT_SKIP_HA=1: not building $venv (the Home Assistant 2025.4 step will not run)"
    return 0
  fi
  want="$(stamp_of "ha=${HA_PINS[*]}")"
  if venv_python_ok "$venv" 13 13 && [ "$(cat "$venv/.bootstrap-stamp" 2>/dev/null || true)" = "$want" ]; then
    log "$venv is up to date"
    return 0
  fi
  if ! venv_python_ok "$venv" 13 13 || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    local py
    if ! py="$(find_python313)"; then
      if have_apt; then
        apt_update_once python3.13
        if apt_has python3.13; then
          local pkgs=(python3.13)
          apt_has python3.13-venv && pkgs+=(python3.13-venv)
          apt_install "${pkgs[@]}"
        fi
      fi
      if ! py="$(find_python313)"; then
        warn_loud "Python 3.13 not found: cannot build $venv for the Home Assistant tests." \
          "Looked for: python3 (if 3.13), python3.13, pyenv 3.13.*, apt package python3.13." \
          "Install Python 3.13, or set ECONNECT_SKIP_HA=1 to skip those tests on purpose."
        die "Python 3.13 is required for the Home Assistant tests"
      fi
    fi
    make_venv "$venv" "$py"
  fi
  ensure_build_tools "$venv/bin/python"
  if [ -f "$venv/.bootstrap-stamp" ]; then
    log "pyproject.toml or the pins changed: updating $venv"
  else
    log "installing Home Assistant's test harness into $venv (first time: a few minutes)"
  fi
  rm -f "$venv/.bootstrap-stamp"
  # Home Assistant 2025.4 pins urllib3<2 and the bridge's engine driver needs urllib3 2 (its
  # TLS and body deadline are tested there, in .venv): here the bridge goes in without its own
  # urllib3, beside Home Assistant's, for the tests/ha that import its discovery and states.
  local bridge_deps
  bridge_deps="$("$venv/bin/python" -c 'import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.startswith("urllib3")))')" ||
    die "cannot read the dependencies from pyproject.toml"
  # shellcheck disable=SC2086 # one requirement per line, none with spaces
  "$venv/bin/python" -m pip install -q "${HA_PINS[@]}" $bridge_deps &&
    "$venv/bin/python" -m pip install -q --no-deps -e . || die "pip install into $venv failed"
  printf '%s\n' "$want" >"$venv/.bootstrap-stamp"
  log "$venv ready ($("$venv/bin/python" --version 2>&1))"
}

# ---------------------------------------------------------------------------------------------
started=$SECONDS
setup_main_venv
if [ "$MAIN_ONLY" -eq 0 ]; then
  setup_suite_venvs
  setup_mosquitto
  setup_nodejs
  setup_ha_venv
fi
log "done in $((SECONDS - started)) s"
