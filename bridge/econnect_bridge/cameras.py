"""Which source each camera's snapshots arrive on, and news of cameras seen for the first time.

Sources are given at construction (every configured subscription); cameras are learnt as their
snapshots arrive (a `{camera}` level or a Frigate wildcard names them). The first time a camera
is learnt, `on_new_camera` is called with its name: the app adds its discovery entities then,
instead of asking over and over which cameras exist. The listener runs on the caller's thread
(paho's or the spool replay's), so it must only hand the name over (e.g. put it on a queue).

Learning is also where a camera's name is checked and named: a blank name (empty, or only
spaces, e.g. a `{camera}` level or a JSON camera key holding " ") raises `BlankCameraNameError`,
so the snapshot is refused before it could reach the engine (which answers HTTP 400 to such a
detector name); and, given the bridge's camera registry (`slugs`), a new name claims its slug
here, in order of arrival, which is the order that decides who keeps a plain slug.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from econnect_bridge.messages import topic_matches
from econnect_bridge.sources import Source
from econnect_identities.naming import BlankCameraNameError, CameraSlugs, is_blank

__all__ = ["BlankCameraNameError", "CameraDirectory", "NewCameraListener"]

NewCameraListener = Callable[[str], None]


def _ignore(_camera: str) -> None:
    """The default listener: nobody needs to hear of new cameras."""


class CameraDirectory:
    """Camera → source, learnt from traffic; configured sources found by topic."""

    def __init__(
        self,
        sources: tuple[Source, ...],
        on_new_camera: NewCameraListener = _ignore,
        slugs: CameraSlugs | None = None,
    ) -> None:
        self._configured = sources
        self._on_new_camera = on_new_camera
        self._slugs = slugs
        self._cameras: dict[str, Source] = {}
        self._lock = threading.Lock()

    def learn(self, camera: str, source: Source, *, replace: bool = True) -> None:
        """Remember the source `camera` arrives on; announce the camera if it is new.

        Live traffic replaces the entry (the latest source wins, as messages arrive); a
        replayed snapshot only fills a gap (`replace=False`). A new camera claims its slug
        before it is announced.

        Raises:
            BlankCameraNameError: `camera` shows nothing; the snapshot must be refused.
        """
        if is_blank(camera):
            raise BlankCameraNameError(_blank_message(camera, source))
        if self._slugs is not None:
            self._slugs.slug(camera)
        with self._lock:
            new = camera not in self._cameras
            if new or replace:
                self._cameras[camera] = source
        if new:
            self._on_new_camera(camera)

    def source_for(self, camera: str) -> Source | None:
        """Return the source `camera`'s latest snapshot arrived on, if any arrived."""
        return self._cameras.get(camera)

    def configured_for(self, topic: str) -> Source | None:
        """Return the configured source whose subscription matches `topic`, if one does."""
        for source in self._configured:
            if topic_matches(source.subscription, topic):
                return source
        return None

    def cameras(self) -> list[str]:
        """Return every camera learnt so far, in order of first arrival."""
        with self._lock:
            return list(self._cameras)


def _blank_message(camera: str, source: Source) -> str:
    """Say which subscription gave the blank name, and what to fix."""
    return (
        f"blank camera name {camera!r} from the subscription {source.subscription!r}: "
        "the {camera} topic level or the JSON camera key is empty; "
        "publish snapshots with a camera name there"
    )
