"""The Frigate stand-in in a child process, scripted over its stdin and stdout.

Home Assistant's test harness fails a test that leaves threads behind, and the stand-in's
HTTP server runs threads, so the Home Assistant tests run it here, as they run the engine's
emulator: `python -m tests.support.frigate_standin_proc` starts a `FrigateStandin`, prints
its URL, then answers one JSON command per line with one JSON line (`{"ok": ...}` or
`{"error": ...}`). `StandinProcess` is the parent's side: it starts the child and turns each
script step (begin, improve, end, the MQTT payloads, the recorded requests and sub_label
writes) into one command. Pictures cross the pipe base64-encoded.

The parent's side imports only the standard library, so it loads in every venv; the child
imports the stand-in (Pillow, paho) only when it runs.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.frigate_standin import FrigateStandin

__all__ = ["StandinProcess", "main"]

REPO = Path(__file__).resolve().parents[2]
#: How long the parent waits for the child's first line (its URL).
START_TIMEOUT = 20.0


class StandinProcess:
    """The parent's handle on a stand-in child process (one command at a time)."""

    def __init__(
        self,
        cameras: Sequence[str] = ("front_door",),
        *,
        auth: bool = False,
        users: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.cameras = tuple(cameras)
        self.auth = auth
        self.users = dict(users or {})
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    # --- life cycle ---

    def start(self) -> StandinProcess:
        """Start the child and wait for the URL it serves on."""
        config = json.dumps({"cameras": self.cameras, "auth": self.auth, "users": self.users})
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.frigate_standin_proc", config],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        first = self._reply()
        self.url = str(first["url"])
        return self

    def stop(self) -> None:
        """Close the child's stdin (it exits) and wait for it."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> StandinProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the script ---

    def reset(self) -> None:
        """Forget every object, request and sub_label write (between tests)."""
        self.call("reset")

    def begin(
        self,
        camera: str,
        frame: bytes | None,
        *,
        label: str = "person",
        score: float = 0.7,
        zones: Iterable[str] = (),
        has_snapshot: bool = True,
    ) -> str:
        """Start tracking an object; return its event id."""
        return str(
            self.call(
                "begin",
                camera=camera,
                frame=_encode(frame),
                label=label,
                score=score,
                zones=list(zones),
                has_snapshot=has_snapshot,
            )
        )

    def improve(
        self,
        event_id: str,
        frame: bytes,
        *,
        score: float | None = None,
        zones: Iterable[str] | None = None,
    ) -> None:
        """Give the object a better best frame (a new snapshot frame time)."""
        self.call(
            "improve",
            id=event_id,
            frame=_encode(frame),
            score=score,
            zones=None if zones is None else list(zones),
        )

    def end(self, event_id: str) -> None:
        """End the object: Frigate stops tracking it and stores its snapshot."""
        self.call("end", id=event_id)

    def message(self, event_id: str, kind: str) -> dict[str, Any]:
        """Return the exact `frigate/events` payload of this kind for the object."""
        payload: dict[str, Any] = self.call("message", id=event_id, kind=kind)
        return payload

    def face_update(self, event_id: str, name: str | None, score: float) -> dict[str, Any]:
        """Return Frigate's own face result for the object (a name at 0.9+ sets its sub_label)."""
        payload: dict[str, Any] = self.call("face_update", id=event_id, name=name, score=score)
        return payload

    def fail_next(self, path_prefix: str, status: int, count: int = 1) -> None:
        """Answer the next `count` requests under `path_prefix` with `status`."""
        self.call("fail_next", prefix=path_prefix, status=status, count=count)

    def sub_label_writes(self) -> list[tuple[str, str | None, float | None]]:
        """Return every accepted sub_label write: (event id, name, score)."""
        writes: list[list[Any]] = self.call("sub_label_writes")
        return [(str(w[0]), w[1], w[2]) for w in writes]

    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Return every request: (method, path, query)."""
        found: list[list[Any]] = self.call("requests")
        return [(str(r[0]), str(r[1]), dict(r[2])) for r in found]

    def snapshot_requests(self, event_id: str | None = None) -> list[dict[str, str]]:
        """Return the query of every snapshot request (of one object, or of all)."""
        return [
            query
            for method, path, query in self.requests()
            if method == "GET"
            and path.endswith("/snapshot.jpg")
            and (event_id is None or f"/{event_id}/" in path)
        ]

    # --- the pipe ---

    def call(self, command: str, **args: Any) -> Any:
        """Send one command and return its result (raise on the child's error)."""
        process = self._process
        if process is None or process.stdin is None:
            msg = "the stand-in process is not running"
            raise RuntimeError(msg)
        process.stdin.write(json.dumps({"command": command, **args}) + "\n")
        process.stdin.flush()
        reply = self._reply()
        if "error" in reply:
            msg = f"stand-in command {command!r} failed: {reply['error']}"
            raise RuntimeError(msg)
        return reply.get("ok")

    def _reply(self) -> dict[str, Any]:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            msg = "the stand-in process exited"
            raise RuntimeError(msg)
        reply: dict[str, Any] = json.loads(line)
        return reply


def _encode(frame: bytes | None) -> str | None:
    return None if frame is None else base64.b64encode(frame).decode("ascii")


def _decode(text: Any) -> bytes | None:
    return None if text is None else base64.b64decode(str(text))


# --- the child ---


def _commands(standin: FrigateStandin) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """The child's command table: each takes the command's arguments, returns JSON data."""

    def begin(args: dict[str, Any]) -> str:
        obj = standin.begin(
            args["camera"],
            args.get("label", "person"),
            _decode(args.get("frame")),
            float(args.get("score", 0.7)),
            args.get("zones", ()),
            has_snapshot=bool(args.get("has_snapshot", True)),
        )
        return obj.id

    def improve(args: dict[str, Any]) -> None:
        frame = _decode(args["frame"])
        assert frame is not None
        standin.objects[args["id"]].improve(frame, score=args.get("score"), zones=args.get("zones"))

    def reset(_args: dict[str, Any]) -> None:
        with standin.lock:
            standin.objects.clear()
            standin.requests.clear()
            standin.request_headers.clear()
            standin.sub_label_writes.clear()

    return {
        "begin": begin,
        "improve": improve,
        "reset": reset,
        "end": lambda args: standin.objects[args["id"]].end(),
        "message": lambda args: standin.objects[args["id"]].message(args["kind"]),
        "face_update": lambda args: standin.face_update(
            standin.objects[args["id"]], args.get("name"), float(args["score"])
        ),
        "fail_next": lambda args: standin.fail_next(
            args["prefix"], int(args["status"]), int(args.get("count", 1))
        ),
        "sub_label_writes": lambda _args: [list(w) for w in standin.sub_label_writes],
        "requests": lambda _args: [list(r) for r in standin.requests],
    }


def _serve(standin: FrigateStandin, stdin: IO[str], stdout: IO[str]) -> None:
    """Answer commands until stdin closes."""
    commands = _commands(standin)
    for line in stdin:
        request = json.loads(line)
        try:
            reply = {"ok": commands[request.pop("command")](request)}
        except Exception as err:  # the parent shows the child's error
            reply = {"error": f"{type(err).__name__}: {err}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in from the JSON configuration in argv[0] until stdin closes."""
    from tests.support.frigate_standin import FrigateStandin

    args = list(sys.argv[1:] if argv is None else argv)
    config: dict[str, Any] = json.loads(args[0]) if args else {}
    users = {name: (pw, role) for name, (pw, role) in config.get("users", {}).items()}
    standin = FrigateStandin(
        cameras=config.get("cameras", ("front_door",)), auth=config.get("auth", False), users=users
    )
    with standin:
        sys.stdout.write(json.dumps({"url": standin.url}) + "\n")
        sys.stdout.flush()
        _serve(standin, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
