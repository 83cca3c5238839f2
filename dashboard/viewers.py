"""Who has an incident open right now (in this API process): fed by the operator page's heartbeat, kept in
memory only, so two operators see each other before they both type a dispatch."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Viewer:
    name: str
    display_name: str | None


class ViewerRegistry:
    """Incident id → viewers with their last heartbeat; a viewer silent for `ttl_s` has left."""

    def __init__(self, ttl_s: float = 25.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._seen: dict[int, dict[Viewer, float]] = {}

    def _prune(self, incident_id: int) -> None:
        now = self.clock()
        viewers = self._seen.get(incident_id, {})
        for v, at in list(viewers.items()):
            if now - at > self.ttl_s:
                del viewers[v]
        if not viewers:
            self._seen.pop(incident_id, None)

    def beat(self, incident_id: int, viewer: Viewer) -> bool:
        """Record a heartbeat; True when the list of viewers changed (the others should hear of it)."""
        self._prune(incident_id)
        viewers = self._seen.setdefault(incident_id, {})
        fresh = viewer not in viewers
        viewers[viewer] = self.clock()
        return fresh

    def leave(self, incident_id: int, viewer: Viewer) -> bool:
        """The viewer closed the incident; True when they were listed."""
        gone = self._seen.get(incident_id, {}).pop(viewer, None) is not None
        self._prune(incident_id)
        return gone

    def viewers(self, incident_id: int) -> list[Viewer]:
        self._prune(incident_id)
        return sorted(self._seen.get(incident_id, {}), key=lambda v: v.name)
