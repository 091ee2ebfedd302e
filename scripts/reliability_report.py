"""Render docs/reliability.md from the figures the reliability, security and fuzz tests saved.

    .venv/bin/python scripts/reliability_report.py --run   # run those tests, then render
    .venv/bin/python scripts/reliability_report.py         # render from the last saved figures

The tests write `benchmarks/results/reliability/figures.json` (git-ignored) through the
`figures` fixture of tests/integration/reliability.py; nothing in the figures tables is typed
by hand. `--run` also records the wall time of the whole run and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "benchmarks/results/reliability"))
FIGURES = RESULTS / "figures.json"
RUN = RESULTS / "run.json"
DOC = ROOT / "docs" / "reliability.md"
TESTS = [
    "tests/integration/test_reliability_engine.py",
    "tests/integration/test_reliability_engine_faults.py",
    "tests/integration/test_reliability_mqtt.py",
    "tests/integration/test_reliability_spool.py",
    "tests/integration/test_reliability_shared.py",
    "tests/integration/test_security_e2e.py",
    "tests/integration/test_fuzz_snapshots.py",
    "tests/integration/test_burst_accounting.py",
    "tests/integration/test_engine_outage_recovery.py",
    "tests/integration/test_bridge_crash_ack.py",
    "tests/integration/test_oversize_memory.py",
]

#: How to read each test's figures (the figures themselves come from the run).
NOTES = {
    "test_engine_outages_retry_open_the_circuit_and_recover": (
        "Three outages in a row (engine process stopped, every call answered 503, every call "
        "hanging past the 1 s timeout), each ~4 s while two cameras send 4 snapshots/s, each "
        "followed by the engine coming back. `naive_calls_without_circuit` is what 3 attempts "
        "per snapshot would have cost; `engine_calls_failed` is what the bridge really sent. "
        "Without a spool every snapshot that could not be processed is an error event "
        "(`error_events`) and counted (`lost`); `unaccounted` must be 0."
    ),
    "test_4xx_is_not_retried_and_names_the_permission": (
        "A 403 after the bridge user's role lost Face Publishing: one call per snapshot, "
        "no retry, an error event naming the permission."
    ),
    "test_broker_kill_9_restarts_lose_nothing_in_the_bridge": (
        "Mosquitto (persistence on, autosave every second) is killed with SIGKILL three times "
        "while a feed publishes ~12 snapshots/s at QoS 1 to 24 cameras and the engine takes "
        "150 ms per call. Losses are split by who lost them: `lost_by_mosquitto_*` are "
        "messages Mosquitto acknowledged and then lost in the kill (not the bridge's doing), "
        "`lost_by_bridge` must be 0. `delivered_twice_to_bridge` are the feed's own QoS 1 "
        "re-sends after a kill, which the broker forwards as new messages; "
        "`mqtt.dedupe_window` makes the bridge process each once (`bridge_processed_twice`)."
    ),
    "test_bridge_kill_9_last_will_then_clean_restart": (
        "The bridge process is killed with SIGKILL after processing a retained Frigate "
        "snapshot; two snapshots arrive while it is dead and wait in its persistent session."
    ),
    "test_sigterm_finishes_in_flight_work_and_says_offline": (
        "SIGTERM while two engine calls (1.5 s each) are in flight and a third snapshot waits."
    ),
    "test_spool_keeps_everything_through_an_outage_and_a_restart": (
        "`spool.enabled` with `spool.responses`: the engine is stopped, snapshots go to the "
        "SQLite spool, the bridge is stopped and started again (the spool survives), more "
        "snapshots arrive, then the engine returns and everything is replayed in order, "
        "events marked `delayed: true`; publish-mode snapshots are replayed too."
    ),
    "test_three_bridges_share_the_feed_and_survive_losing_one": (
        "Three bridge processes subscribed as `$share/econnect/...` with distinct client ids; "
        "one is killed with SIGKILL mid-stream."
    ),
    "test_hostile_engine_answers_end_in_a_timeout_or_a_clear_error": (
        "One snapshot per hostile answer from the emulator (api.timeout 1 s, no retries), "
        "then a normal snapshot to show the bridge recovered."
    ),
    "test_body_trickling_past_the_deadline_is_cut": (
        "A body trickling in 20 pieces over 4 s, each within the 1 s read timeout: cut at "
        "the 2 s total deadline (connect + read timeout) with `engine_timeout`. (This test "
        "first failed: the client checked its deadline only between 64 KiB chunks; "
        "`EconnectClient._read_bounded` now reads with `read1`.)"
    ),
    "test_tokens_expiring_every_second_and_a_password_change": (
        "The engine issues tokens valid for 1 s; then the bridge user's password is changed "
        "on the engine. `login_attempts_after_password_change` counts the sign-ins the "
        "emulator saw: after a refusal, sign-ins back off (5 s, doubling to 5 min), so a "
        "changed password cannot lock the account."
    ),
    "test_thousands_of_hostile_payloads": (
        "Seeded generated payloads on `fuzz/<odd camera name>/snapshot` against a bridge "
        "process: random bytes, truncated and corrupted JPEG/PNG, payloads past "
        "`max_image_bytes`, JSON with wrong types, invalid base64, JSON nested 20 000 deep, "
        "empty messages. Every payload is a recognition, an error event, or superseded by a "
        "newer snapshot of the same camera (latest-wins); `unaccounted` must be 0. RSS is the "
        "bridge process's, after 300 warm-up payloads and after the rest."
    ),
}


#: What the features under test are (static text, kept beside this script).
MECHANISMS = ROOT / "scripts" / "reliability_mechanisms.md"


def run_tests() -> dict[str, Any]:
    """Run the reliability, security and fuzz tests; return how long the run took."""
    if FIGURES.exists():
        FIGURES.unlink()
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
    code = subprocess.call(command, cwd=ROOT)  # noqa: S603 (our own interpreter and tests)
    info = {
        "exit_code": code,
        "wall_seconds": round(time.monotonic() - started, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "mosquitto": _mosquitto_version(),
        "command": "pytest " + " ".join(TESTS),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    RUN.write_text(json.dumps(info, indent=2))
    return info


def _mosquitto_version() -> str:
    try:
        out = subprocess.run(
            ["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict) and data and not all(_scalar(v) for v in data.values()):
        rows: list[tuple[str, Any]] = []
        for key, value in data.items():
            rows += _flatten(value, f"{prefix}{key}." if prefix or key else "")
        return rows
    if isinstance(data, dict):
        return [(f"{prefix}{k}", v) for k, v in data.items()]
    return [(prefix.rstrip("."), data)]


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value) if value else "none"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render(figures: dict[str, Any], run: dict[str, Any] | None) -> str:
    """Return the Markdown of docs/reliability.md."""
    lines = [
        "# Reliability: what was tried, how many, what survived",
        "",
        "<!-- Generated by scripts/reliability_report.py from the figures the tests saved. "
        "Do not edit by hand. -->",
        "",
        "Every figure below comes from the last run of the reliability, security and fuzz "
        "tests against a real Mosquitto and the engine emulator over real HTTP (the same tests "
        "`bash scripts/test.sh` runs). To regenerate this page:",
        "",
        "```",
        ".venv/bin/python scripts/reliability_report.py --run",
        "```",
        "",
        "(`--run` runs the tests listed below and renders this page; without it the page is "
        "rendered from the figures of the last run, in `benchmarks/results/reliability/`.) "
        "Configuration fuzzing (hypothesis, every key of the schema) is in "
        "`tests/unit/test_config_fuzz.py`; the retry, backoff and circuit-breaker logic and "
        "the spool are unit-tested with an injected clock in `tests/unit/test_retry_spool.py`. "
        "The security measures behind some of these tests are described in "
        "[security.md](security.md).",
        "",
    ]
    if run:
        lines += [
            "## The run",
            "",
            "| | |",
            "|---|---|",
            f"| finished | {run['finished']} |",
            f"| wall time of the whole run | {run['wall_seconds']} s |",
            f"| result | {'all passed' if run['exit_code'] == 0 else 'FAILURES (see below)'} |",
            f"| machine | {run['cpus']} CPUs, Python {run['python']}, {run['mosquitto']} |",
            "",
        ]
    lines += [MECHANISMS.read_text(encoding="utf-8")]
    total = sum(entry["seconds"] for entry in figures.values())
    lines += [
        "## Summary",
        "",
        "| test | outcome | seconds |",
        "|---|---|---|",
    ]
    for entry in _ordered(figures):
        name = entry["test"].split("::")[-1]
        outcome = entry["outcome"]
        if entry["figures"].get("known_gap"):
            outcome = "known gap (xfail)"
        lines.append(f"| [{name}](#{name}) | {outcome} | {entry['seconds']} |")
    lines += ["", f"Test bodies: {total:.0f} s in all (brokers and emulators start outside).", ""]
    for entry in _ordered(figures):
        name = entry["test"].split("::")[-1]
        lines += [f"## {name}", "", f"`{entry['test']}`: {entry['doc']}", ""]
        if name in NOTES:
            lines += [NOTES[name], ""]
        lines += ["| figure | value |", "|---|---|"]
        data = {k: v for k, v in entry["figures"].items() if k != "known_gap"}
        for key, value in _flatten(data):
            lines.append(f"| {key} | {_cell(value)} |")
        lines += ["", f"Outcome: **{entry['outcome']}** in {entry['seconds']} s.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _ordered(figures: dict[str, Any]) -> list[dict[str, Any]]:
    order = {path: n for n, path in enumerate(TESTS)}
    return sorted(
        figures.values(), key=lambda e: (order.get(e["test"].split("::")[0], 99), e["test"])
    )


def main() -> int:
    """Run (optionally) and render."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the tests first")
    args = parser.parse_args()
    run = run_tests() if args.run else (json.loads(RUN.read_text()) if RUN.exists() else None)
    if not FIGURES.exists():
        print(f"no figures in {FIGURES}: run with --run", file=sys.stderr)
        return 1
    DOC.write_text(render(json.loads(FIGURES.read_text()), run), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0 if run is None else int(run["exit_code"] != 0)


if __name__ == "__main__":
    sys.exit(main())
