"""Latest-frame handoff: one slot per camera stream holding only the newest frame.

A slow consumer (the detector) must see the present, never a backlog: the reader overwrites the slot, and a
frame older than ``max_age_s`` is dropped (and counted) instead of being handed out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ingest.health import RateMeter
from ingest.types import Frame


class LatestFrame:
    """Thread-safe single-frame slot. ``put`` never blocks; ``get`` returns a fresh frame or ``None``."""

    def __init__(self, max_age_s: float = 1.0, clock_ns: Callable[[], int] = time.monotonic_ns) -> None:
        if max_age_s <= 0:
            raise ValueError("max_age_s must be > 0")
        self.max_age_ns = int(max_age_s * 1e9)
        self._clock_ns = clock_ns
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.puts = 0
        self.delivered = 0
        self.dropped = 0
        self.out_rate = RateMeter()

    def put(self, frame: Frame) -> None:
        """Replace the held frame (an unread older one is simply superseded, not 'dropped')."""
        with self._cond:
            self._frame = frame
            self.puts += 1
            self._cond.notify_all()

    def get(self, newer_than: int = -1, timeout: float = 0.0) -> Frame | None:
        """The newest frame with ``seq > newer_than`` and age ``<= max_age``, waiting up to ``timeout`` s.

        A held frame found too old is dropped for every consumer and counted once in ``dropped``.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = self._frame
                if frame is not None and frame.seq > newer_than:
                    if self._clock_ns() - frame.mono_ns <= self.max_age_ns:
                        self.delivered += 1
                        self.out_rate.mark(time.monotonic())
                        return frame
                    self._frame = None
                    self.dropped += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def clear(self) -> None:
        with self._cond:
            self._frame = None
