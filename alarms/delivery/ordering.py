"""Order and recovery per webhook endpoint: changes of one incident leave in version order, and a backlog
held up by an endpoint outage drains as soon as the endpoint answers again, not after each row's backoff."""

from __future__ import annotations

import asyncio
from bisect import insort
from dataclasses import dataclass

from alarms.delivery.outbox import OutboxItem

LaneKey = tuple[str, str, int]


def lane_key(item: OutboxItem) -> LaneKey | None:
    """Rows of one incident to one target share a lane; rows of no incident travel alone."""
    if item.incident_id is None:
        return None
    return (item.channel, item.target, item.incident_id)


class Lanes:
    """One delivery at a time per (channel, target, incident), in outbox id order: the outbox id follows the
    incident's version, so a receiver never hears ``incident.updated`` before ``incident.created``. The head
    stays in its lane while it waits for a retry; it leaves when delivered or dead."""

    def __init__(self) -> None:
        self._lanes: dict[LaneKey, list[OutboxItem]] = {}

    def admit(self, item: OutboxItem) -> bool:
        """True: send now (the lane was free, or this is its head coming back for a retry)."""
        key = lane_key(item)
        if key is None:
            return True
        lane = self._lanes.get(key)
        if lane is None:
            self._lanes[key] = [item]
            return True
        if lane[0].id == item.id:
            lane[0] = item
            return True
        if all(w.id != item.id for w in lane):
            insort(lane, item, lo=1, key=_by_id)
        return False

    def finish(self, item: OutboxItem) -> OutboxItem | None:
        """The head is done: the next row of its lane, now free to go."""
        key = lane_key(item)
        if key is None:
            return None
        lane = self._lanes.get(key)
        if not lane or lane[0].id != item.id:
            return None
        lane.pop(0)
        if lane:
            return lane[0]
        del self._lanes[key]
        return None

    def waiting(self) -> int:
        return sum(len(lane) - 1 for lane in self._lanes.values())


def _by_id(item: OutboxItem) -> int:
    return item.id


@dataclass(slots=True)
class Held:
    item: OutboxItem
    retry_at: float
    timer: asyncio.TimerHandle


class EndpointHold:
    """Rows waiting out a retry, by endpoint. An endpoint is down from a failed send until a send succeeds;
    meanwhile the worker probes it with the oldest waiting row (life-safety first), and the first success
    releases every row held for it at once."""

    def __init__(self) -> None:
        self._held: dict[str, dict[int, Held]] = {}
        self.down: set[str] = set()

    def hold(self, target: str, held: Held) -> None:
        self.down.add(target)
        self._held.setdefault(target, {})[held.item.id] = held

    def forget(self, target: str, item_id: int) -> None:
        """The row's own retry time came: it goes the normal way."""
        held = self._held.get(target)
        if held is not None:
            held.pop(item_id, None)

    def probe_candidate(self, target: str) -> Held | None:
        """Takes the oldest held row out, its timer stopped, to send as a probe."""
        held = self._held.get(target)
        if not held:
            return None
        best = min(held.values(), key=lambda h: (not h.item.life_safety, h.item.id))
        best.timer.cancel()
        del held[best.item.id]
        return best

    def up(self, target: str) -> list[OutboxItem]:
        """The endpoint answered: every held row, timers stopped, to send now."""
        self.down.discard(target)
        held = self._held.pop(target, {})
        for h in held.values():
            h.timer.cancel()
        return [h.item for h in sorted(held.values(), key=lambda h: h.item.id)]

    def held(self, target: str) -> int:
        return len(self._held.get(target, {}))
