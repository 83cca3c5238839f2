"""Per-camera health arithmetic: frame rates and the video-loss threshold.

:class:`DownDetector` is pure (the caller passes ``now``): a camera that is not online for ``down_after_s``
is *down* (the alarm layer raises ``video_loss``), and *up* again once online for ``up_after_s``. Outages
shorter than the threshold emit nothing, so a flapping link cannot flood operators.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


class RateMeter:
    """Events per second over a sliding window; thread-safe (marked by a reader, read by a watchdog)."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._started: float | None = None
        self._lock = threading.Lock()

    def mark(self, now: float) -> None:
        with self._lock:
            if self._started is None:
                self._started = now
            self._times.append(now)
            self._trim(now)

    def rate(self, now: float) -> float:
        with self._lock:
            self._trim(now)
            if self._started is None or not self._times:
                return 0.0
            span = min(self.window_s, now - self._started)
            return len(self._times) / span if span > 0 else 0.0

    def reset(self) -> None:
        with self._lock:
            self._times.clear()
            self._started = None

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


@dataclass(frozen=True, slots=True)
class VideoLossEvent:
    """A down/up transition. ``since`` is when the outage began (down) or when the camera came back (up)."""

    camera_id: str
    down: bool
    at: float
    since: float
    error: str | None = None


class DownDetector:
    """``video_loss`` threshold for one camera: feed it ``update(online, now)`` on changes and ticks."""

    def __init__(self, camera_id: str, down_after_s: float, up_after_s: float = 0.0) -> None:
        if down_after_s < 0 or up_after_s < 0:
            raise ValueError("thresholds must be >= 0")
        self.camera_id = camera_id
        self.down_after_s = down_after_s
        self.up_after_s = up_after_s
        self.is_down = False
        self._bad_since: float | None = None
        self._good_since: float | None = None

    def update(self, online: bool, now: float, error: str | None = None) -> VideoLossEvent | None:
        """The transition this observation causes, if any."""
        if online:
            self._bad_since = None
            if not self.is_down:
                return None
            if self._good_since is None:
                self._good_since = now
            if now - self._good_since >= self.up_after_s:
                self.is_down = False
                return VideoLossEvent(self.camera_id, False, now, self._good_since)
            return None
        self._good_since = None
        if self._bad_since is None:
            self._bad_since = now
        if not self.is_down and now - self._bad_since >= self.down_after_s:
            self.is_down = True
            return VideoLossEvent(self.camera_id, True, now, self._bad_since, error)
        return None
