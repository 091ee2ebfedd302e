"""The doctor's Frigate checks: the mode, the HTTP API, the cameras and zones, write-back.

Events mode depends on Frigate's HTTP API as much as on the broker: a wrong port, a user
without the admin role, a camera name with a typo or a zone that does not exist all look like
"nothing recognised" at run time. Each is tried for real here, with the fix. Nothing is ever
written to Frigate: write permission is probed with a request Frigate refuses either way.
"""

from __future__ import annotations

from econnect_bridge.app import frigate_api
from econnect_bridge.config.model import BridgeConfig, FrigateConfig
from econnect_bridge.doctor_findings import Finding
from econnect_bridge.frigate_api import FrigateApi
from econnect_identities.frigate_http import FrigateApiError, FrigateConfigSummary

AREA = "frigate"

#: What to do about each Frigate failure, by its code.
_FIXES = {
    "frigate_unreachable": "check frigate.url (host and port: 5000 unauthenticated, 8971 with "
    "a login) and that the bridge's host can reach it",
    "frigate_tls_error": "set frigate.ca_file to the CA that signed Frigate's certificate "
    "(or use http:// on port 5000 inside a trusted network)",
    "frigate_auth_failed": "check frigate.username and frigate.password (a Frigate user; on "
    "port 8971 they are required)",
    "frigate_forbidden": "give the Frigate user the admin role",
    "frigate_not_found": "frigate.url must be Frigate's base URL, without /api",
}


def check_frigate(config: BridgeConfig) -> list[Finding]:
    """Say which mode runs, then check Frigate's HTTP API when events mode needs it."""
    frigate = config.frigate
    if not frigate.enabled:
        return []
    if not frigate.events_mode:
        detail = "snapshot mode: retained MQTT snapshots, no event id, zones or write-back"
        fix = "set frigate.url to Frigate's HTTP API for events mode (one answer per object)"
        return [Finding(AREA, "mode", "warn", detail, fix)]
    mode = Finding(AREA, "mode", "ok", f"events mode: follows {frigate.events_topic()}")
    api = frigate_api(config)
    assert api is not None, "events mode has a url"
    with api:
        return [mode, *_check_api(api, frigate)]


def _check_api(api: FrigateApi, frigate: FrigateConfig) -> list[Finding]:
    try:
        version = api.version()
        summary = api.config()
    except FrigateApiError as err:
        return [_failure("reachable", err)]
    who = f" as {frigate.username}" if frigate.username else ""
    found = [Finding(AREA, "reachable", "ok", f"Frigate {version} at {api.base_url}{who}")]
    found += _check_cameras(frigate, summary)
    found += _check_zones(frigate, summary)
    found.append(_both_recognisers(frigate, summary))
    if frigate.write_sub_label:
        found.append(_check_write_back(api, frigate))
    return found


def _failure(check: str, err: FrigateApiError) -> Finding:
    return Finding(AREA, check, "fail", str(err), _FIXES.get(err.code))


def _check_cameras(frigate: FrigateConfig, summary: FrigateConfigSummary) -> list[Finding]:
    named = set(frigate.cameras) | set(frigate.required_zones)
    missing = sorted(named - set(summary.cameras))
    has = ", ".join(summary.cameras) or "none"
    if missing:
        detail = f"Frigate has no camera {', '.join(missing)} (it has: {has})"
        fix = "spell frigate.cameras and frigate.required_zones as Frigate's config does"
        return [Finding(AREA, "cameras", "fail", detail, fix)]
    found = [Finding(AREA, "cameras", "ok", f"Frigate's cameras: {has}")]
    followed = frigate.cameras or summary.cameras
    dark = sorted(set(followed) & set(summary.cameras_without_snapshots))
    if dark:
        detail = f"snapshots are off on {', '.join(dark)}: nothing to fetch once an object ends"
        fix = "set snapshots.enabled: true on those cameras in Frigate"
        found.append(Finding(AREA, "snapshots", "warn", detail, fix))
    return found


def _check_zones(frigate: FrigateConfig, summary: FrigateConfigSummary) -> list[Finding]:
    found: list[Finding] = []
    for camera, zones in sorted(frigate.required_zones.items()):
        known = summary.zones.get(camera, ())
        unknown = sorted(set(zones) - set(known))
        if camera in summary.cameras and unknown:
            detail = (
                f"{camera} has no zone {', '.join(unknown)} (it has: {', '.join(known) or 'none'})"
                ": no object there would ever be recognised"
            )
            fix = f"fix frigate.required_zones.{camera}"
            found.append(Finding(AREA, "zones", "fail", detail, fix))
    if frigate.required_zones and not found:
        found.append(Finding(AREA, "zones", "ok", "every required zone exists in Frigate"))
    return found


def _both_recognisers(frigate: FrigateConfig, summary: FrigateConfigSummary) -> Finding:
    if not summary.face_recognition:
        return Finding(AREA, "face recognition", "ok", "Frigate's own face recognition is off")
    if frigate.skip_named:
        detail = "Frigate's own face recognition is on: objects it names are left to it"
    elif frigate.write_sub_label and not frigate.overwrite_sub_label:
        detail = (
            "Frigate's own face recognition is on: both recognise; a name Frigate set is kept, "
            "the bridge writes only the others"
        )
    else:
        detail = "Frigate's own face recognition is on: both recognise, independently"
    if not frigate.skip_named:
        detail += "; frigate.skip_named: true leaves the objects Frigate names to it"
    return Finding(AREA, "face recognition", "info", detail)


def _check_write_back(api: FrigateApi, frigate: FrigateConfig) -> Finding:
    try:
        allowed = api.can_write_sub_labels()
    except FrigateApiError as err:
        return _failure("write sub_label", err)
    if allowed:
        detail = f"allowed (names at a score of {frigate.sub_label_min_score} or more)"
        return Finding(AREA, "write sub_label", "ok", detail)
    who = frigate.username or "the bridge"
    detail = f"Frigate refuses sub_label writes from {who}"
    fix = "give the Frigate user the admin role, or set frigate.write_sub_label: false"
    return Finding(AREA, "write sub_label", "fail", detail, fix)
