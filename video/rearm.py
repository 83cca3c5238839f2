"""Re-arming a camera's rules when a false alarm's silence ends: a fire rule latches its episode (it never
ends while the camera still sees fire), so without this a silenced camera would stay blind for good."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from alarms.incident_writer import Change

SILENCE_ENDED = frozenset({"silence_expired", "silence_lifted"})


class Rearmable(Protocol):
    def rearm(self, camera_id: str, kind: str) -> int: ...


def rearm_on_silence_end(pipeline: Rearmable) -> Callable[[list[Change]], None]:
    """An engine batch listener: each ended silence re-arms its camera's rules of that kind, so a condition
    still in view starts a fresh episode and opens a new incident."""

    def listener(changes: list[Change]) -> None:
        for c in changes:
            if c.action in SILENCE_ENDED and c.incident.source_kind == "camera":
                pipeline.rearm(c.incident.source_id, c.incident.category)

    return listener
