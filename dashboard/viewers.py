"""Who has an incident open right now: fed by the operator page's heartbeat, kept in memory only, so two
operators see each other before they both type a dispatch. Behind several API processes (`--role api`) each
beat is shared over the live relay (jetstream/push_relay.py), so operators on different replicas see each
other too."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


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


class Hub(Protocol):
    def publish(self, event: dict[str, Any]) -> None: ...


def viewer_list(reg: ViewerRegistry, incident_id: int) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "viewers": [{"name": v.name, "display_name": v.display_name} for v in reg.viewers(incident_id)],
    }


def apply_beat(reg: ViewerRegistry, hub: Hub, beat: dict[str, Any]) -> dict[str, Any]:
    """One heartbeat or goodbye (`open` false), from this process's page or another API process's: when the
    list changed, the pages with the incident in scope hear the new one (event `viewers`)."""
    incident_id = int(beat["incident_id"])
    me = Viewer(str(beat["name"]), beat.get("display_name"))
    changed = reg.beat(incident_id, me) if beat.get("open", True) else reg.leave(incident_id, me)
    out = viewer_list(reg, incident_id)
    if changed:
        hub.publish({"type": "viewers", "place": beat.get("place") or {}, **out})
    return out
