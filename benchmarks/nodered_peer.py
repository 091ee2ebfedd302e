"""The Node-RED peer: the flow a Home Assistant user builds instead of running the bridge.

mqtt in -> function (build the engine's request) -> http request -> function (build the event)
-> mqtt out, in Node-RED 4.1 from npm, started as its own process (`node red.js -u DIR
--settings FILE`, headless: no editor, no admin API, no palette manager). The flow is written
afresh for every scenario from `flow()`, so what runs is what this file says:

* sign-in: at start, an inject node posts the same `POST /api/v1/authenticate` the bridge sends
  (the sample gallery's `bridge` user) and keeps the JWT in flow context; snapshots that arrive
  before it are ignored;
* mqtt in on the topics the bridge subscribes to (`bench/+/+`) with the bridge's QoS (1), raw
  bytes (`datatype: buffer`);
* the request: the same `publishWithResponse` JSON body as `econnect_identities.protocol.
  publish_body` (base64 image first, the bridge's default options), the same headers
  (`Authorization: Bearer <JWT>`, JSON content type and accept);
* http request: POST, parsed JSON answer, "enable connection keep-alive" ticked (`persist`):
  Node-RED then uses a keep-alive `http.Agent`, with no limit on connections, as it ships;
* the event: one JSON message with `source_topic` (the benchmark matches results by the seq in
  it), `detect_time` / `processed_time` (millisecond ISO times, as the bridge's events) and
  `api_latency_ms`, the engine call as the flow timed it (from the end of the request function
  to the start of the event function: the http node's JSON encoding, the HTTP exchange and the
  JSON decoding of the answer, as the bridge's own figure covers);
* mqtt out on its own events topic, QoS 1, not retained, on the same broker connection.

Node-RED itself: `install()` runs `npm install node-red@4.1` once into a cache folder
(`~/.cache/econnect-bench/node-red-4.1`, or `$ECONNECT_BENCH_CACHE/node-red-4.1`), outside the
repository. `python benchmarks/nodered_peer.py --install` does only that (scripts/bench.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

VERSION = "4.1"
#: Node-RED 4.x needs Node.js 18 or newer (Debian 13 ships 20).
MIN_NODE_MAJOR = 18
INSTALL_HINT = (
    "the Node-RED peer needs Node.js (>= 18) and npm: on Debian run "
    "`apt-get install -y nodejs npm` (scripts/bench.sh does it when run as root), or run "
    "`benchmarks/run.py --profile short` / `--no-nodered` to skip the Node-RED scenarios"
)

BUILD_REQUEST = """\
// The engine's publishWithResponse request, built as econnect-bridge builds it.
const token = flow.get("token");
if (!token) {
    return null; // not signed in yet
}
const camera = msg.topic.split("/")[1];
const detectTime = new Date().toISOString();
msg.sourceTopic = msg.topic;
msg.detectTime = detectTime;
msg.headers = {
    "Authorization": "Bearer " + token,
    "Content-Type": "application/json",
    "Accept": "application/json"
};
msg.payload = {
    expanded: msg.payload.toString("base64"),
    detectorName: camera,
    ianaTimeZone: "UTC",
    detectTimeUtc: detectTime.replace(/\\.\\d{3}Z$/, "Z"),
    largestFaceOnly: true,
    allowDoubleDetection: false,
    includePerson: true,
    includeNames: true,
    includeAddresses: false,
    includeTags: true,
    includeFields: false
};
msg.apiStarted = perf.performance.now();
return msg;
"""

BUILD_EVENT = """\
// One event per snapshot, on the flow's own events topic.
const apiMs = perf.performance.now() - msg.apiStarted;
const camera = msg.sourceTopic.split("/")[1];
const base = {
    schema_version: 1,
    camera: camera,
    source_topic: msg.sourceTopic,
    detect_time: msg.detectTime,
    api_latency_ms: Math.round(apiMs * 10) / 10
};
let event;
if (msg.statusCode !== 200 || msg.payload === null || typeof msg.payload !== "object") {
    event = Object.assign(base, {type: "error", error: "engine answered " + msg.statusCode});
} else {
    const faces = (msg.payload.detectedFaces || []).map(function (face) {
        const person = face.person || null;
        return {
            face_id: face.faceId,
            confidence: face.confidence,
            quality: face.faceQuality,
            box: face.boundingBox || null,
            person: person
        };
    });
    const known = faces.some(function (face) { return face.person !== null; });
    event = Object.assign(base, {
        type: faces.length === 0 ? "no_face" : (known ? "known_person" : "unknown_face"),
        faces: faces
    });
}
event.processed_time = new Date().toISOString();
return {topic: EVENTS_TOPIC, payload: JSON.stringify(event), qos: 1, retain: false};
"""

AUTH_REQUEST = """\
msg.headers = {"Content-Type": "application/json", "Accept": "application/json"};
msg.payload = {username: "bridge", password: "bridge-password"};
return msg;
"""

AUTH_STORE = """\
if (msg.statusCode === 200 && msg.payload && msg.payload.token) {
    flow.set("token", msg.payload.token);
    node.log("signed in");
} else {
    node.error("sign-in failed: " + msg.statusCode);
}
return null;
"""

SETTINGS = """\
// Written by benchmarks/nodered_peer.py for one benchmark scenario.
module.exports = {
    flowFile: "flows.json",
    flowFilePretty: true,
    credentialSecret: false,
    httpAdminRoot: false, // no editor, no admin API
    httpNodeRoot: false, // no HTTP-in endpoints: headless
    uiHost: "127.0.0.1",
    uiPort: 0,
    disableEditor: true,
    editorTheme: { projects: { enabled: false } },
    externalModules: {
        autoInstall: false,
        palette: { allowInstall: false },
        modules: { allowInstall: false }
    },
    functionExternalModules: true, // lets the function nodes load the built-in perf_hooks
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: "info", metrics: false, audit: false } }
};
"""


def cache_dir() -> Path:
    """Where Node-RED is installed (outside the repository)."""
    base = os.environ.get("ECONNECT_BENCH_CACHE") or str(Path.home() / ".cache" / "econnect-bench")
    return Path(base) / f"node-red-{VERSION}"


def red_js() -> Path:
    """Node-RED's entry point inside the cache folder."""
    return cache_dir() / "node_modules" / "node-red" / "red.js"


def find_node() -> str | None:
    """The Node.js binary (`node`, or Debian's older `nodejs` name), or None."""
    return shutil.which("node") or shutil.which("nodejs")


def node_version(node: str) -> tuple[int, ...]:
    """Node.js's version, e.g. (20, 19, 2)."""
    out = subprocess.run(
        [node, "--version"], check=False, capture_output=True, text=True, timeout=10
    )
    return tuple(int(part) for part in out.stdout.strip().lstrip("v").split(".") if part.isdigit())


def installed_version() -> str | None:
    """The Node-RED version in the cache folder, or None."""
    package = red_js().parent / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


class NodeRedUnavailableError(RuntimeError):
    """Node.js, npm or Node-RED is missing and cannot be installed here."""


def install(log: Any = print) -> tuple[str, Path]:
    """Return (node binary, red.js), installing Node-RED 4.1 with npm on first use."""
    node = find_node()
    if node is None:
        raise NodeRedUnavailableError(f"Node.js not found; {INSTALL_HINT}")
    version = node_version(node)
    if not version or version[0] < MIN_NODE_MAJOR:
        raise NodeRedUnavailableError(
            f"Node.js {version} is too old for Node-RED {VERSION}; {INSTALL_HINT}"
        )
    have = installed_version()
    if have is not None and have.startswith(VERSION + "."):
        return node, red_js()
    npm = shutil.which("npm")
    if npm is None:
        raise NodeRedUnavailableError(
            f"npm not found (Node-RED {VERSION} is not installed yet); {INSTALL_HINT}"
        )
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    log(f"installing Node-RED {VERSION} with npm into {target} (once)")
    argv = [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--prefix", str(target)]
    done = subprocess.run(
        [*argv, f"node-red@{VERSION}"], check=False, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0 or installed_version() is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise NodeRedUnavailableError(f"npm install node-red@{VERSION} failed: " + " | ".join(tail))
    return node, red_js()


def flow(
    *, broker_port: int, engine_url: str, topic: str, events_topic: str, qos: int = 1
) -> list[dict[str, Any]]:
    """The flow: sign-in at start, then mqtt in -> request -> http -> event -> mqtt out."""
    tab = "bench-tab"
    perf = [{"var": "perf", "module": "perf_hooks"}]

    def function(node_id: str, name: str, code: str, wires: list[str], libs: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "function",
            "z": tab,
            "name": name,
            "func": code,
            "outputs": 1,
            "timeout": 0,
            "noerr": 0,
            "initialize": "",
            "finalize": "",
            "libs": libs,
            "x": 400,
            "y": 100,
            "wires": [wires],
        }

    def http(node_id: str, url: str, wires: list[str]) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "http request",
            "z": tab,
            "name": "",
            "method": "POST",
            "ret": "obj",
            "paytoqs": "ignore",
            "url": url,
            "tls": "",
            "persist": True,  # "Enable connection keep-alive"
            "proxy": "",
            "insecureHTTPParser": False,
            "authType": "",
            "senderr": False,
            "headers": [],
            "x": 600,
            "y": 100,
            "wires": [wires],
        }

    event_code = BUILD_EVENT.replace("EVENTS_TOPIC", json.dumps(events_topic))
    return [
        {"id": tab, "type": "tab", "label": "econnect benchmark", "disabled": False},
        {
            "id": "bench-broker",
            "type": "mqtt-broker",
            "name": "bench broker",
            "broker": "127.0.0.1",
            "port": str(broker_port),
            "clientid": "bench-nodered",
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": True,
            "autoUnsubscribe": True,
            "birthTopic": "",
            "closeTopic": "",
            "willTopic": "",
        },
        {
            "id": "bench-signin",
            "type": "inject",
            "z": tab,
            "name": "sign in",
            "props": [],
            "repeat": "",
            "crontab": "",
            "once": True,
            "onceDelay": "0.1",
            "topic": "",
            "x": 100,
            "y": 40,
            "wires": [["bench-auth-request"]],
        },
        function("bench-auth-request", "sign-in request", AUTH_REQUEST, ["bench-auth"], []),
        http("bench-auth", engine_url + "/api/v1/authenticate", ["bench-auth-store"]),
        function("bench-auth-store", "keep the JWT", AUTH_STORE, [], []),
        {
            "id": "bench-in",
            "type": "mqtt in",
            "z": tab,
            "name": "snapshots",
            "topic": topic,
            "qos": str(qos),
            "datatype": "buffer",
            "broker": "bench-broker",
            "nl": False,
            "rap": True,
            "rh": 0,
            "inputs": 0,
            "x": 100,
            "y": 100,
            "wires": [["bench-build"]],
        },
        function("bench-build", "engine request", BUILD_REQUEST, ["bench-http"], perf),
        http("bench-http", engine_url + "/api/v1/faceEdge/publishWithResponse", ["bench-event"]),
        function("bench-event", "event", event_code, ["bench-out"], perf),
        {
            "id": "bench-out",
            "type": "mqtt out",
            "z": tab,
            "name": "events",
            "topic": events_topic,
            "qos": str(qos),
            "retain": "false",
            "respTopic": "",
            "contentType": "",
            "userProps": "",
            "correl": "",
            "expiry": "",
            "broker": "bench-broker",
            "x": 800,
            "y": 100,
            "wires": [],
        },
    ]


def write_user_dir(
    user_dir: Path, *, broker_port: int, engine_url: str, topic: str, events_topic: str
) -> Path:
    """Write settings.js and flows.json into a fresh user dir; return the settings file."""
    user_dir.mkdir(parents=True, exist_ok=True)
    nodes = flow(
        broker_port=broker_port, engine_url=engine_url, topic=topic, events_topic=events_topic
    )
    (user_dir / "flows.json").write_text(json.dumps(nodes, indent=2) + "\n")
    settings = user_dir / "settings.js"
    settings.write_text(SETTINGS)
    return settings


def argv(node: str, red: Path, user_dir: Path, settings: Path) -> list[str]:
    """The command line that starts this Node-RED."""
    return [node, str(red), "--userDir", str(user_dir), "--settings", str(settings)]


def main(argv_: list[str] | None = None) -> int:
    """`--install`: install Node-RED into the cache folder (if needed); `--check`: is it ready."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install Node-RED if missing")
    parser.add_argument(
        "--check", action="store_true", help="exit 0 if Node.js and Node-RED are ready, else 1"
    )
    args = parser.parse_args(argv_)
    if args.check:
        node = find_node()
        version = node_version(node) if node else ()
        have = installed_version()
        ready = bool(version) and version[0] >= MIN_NODE_MAJOR and have is not None
        return 0 if ready and str(have).startswith(VERSION + ".") else 1
    if not args.install:
        parser.print_help()
        return 0
    try:
        node, red = install(lambda text: print(f"nodered_peer: {text}", file=sys.stderr))
    except NodeRedUnavailableError as err:
        print(f"nodered_peer: {err}", file=sys.stderr)
        return 1
    print(f"nodered_peer: Node-RED {installed_version()} at {red}, Node.js {node}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
