"""Real-time pacing for a file played as a camera."""

from __future__ import annotations

import math
import threading
import time


class Pacer:
    """Holds a file source to its timestamps (a loop restarts seamlessly); re-anchors when a second late."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps and fps > 0 else 1.0 / 25
        self._base: float | None = None
        self._next_due: float | None = None
        self._last_pts = -self.period

    def new_clip(self) -> None:
        """The file starts again: its timestamps restart, the schedule continues."""
        self._base = None
        self._last_pts = -self.period

    def wait(self, pts: float | None, stop: threading.Event) -> None:
        now = time.monotonic()
        pts = self._last_pts + self.period if pts is None or math.isnan(pts) else pts
        self._last_pts = pts
        if self._base is None:
            self._base = (self._next_due if self._next_due is not None else now) - pts
        due = self._base + pts
        if due > now:
            stop.wait(due - now)
        elif now - due > 1.0:
            self._base = now - pts
            due = now
        self._next_due = due + self.period
