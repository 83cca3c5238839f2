"""Incident push: every committed incident change fans out to connected clients (SSE today, the operator
page tomorrow). Slow clients lose their oldest events rather than slowing anyone else."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alarms.engine import Change


@dataclass(slots=True, eq=False)
class Subscriber:
    queue: asyncio.Queue[dict[str, Any]]
    dropped: int = 0


class PushHub:
    def __init__(self, max_queue: int = 1000) -> None:
        self._subs: set[Subscriber] = set()
        self._max_queue = max_queue
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> Subscriber:
        sub = Subscriber(asyncio.Queue(self._max_queue))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        for sub in list(self._subs):
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(event)

    def publish_many_threadsafe(self, events: list[dict[str, Any]]) -> None:
        """Called by the engine's thread right after a commit, one wake-up of the event loop per group
        commit; the `committed_at` stamp lets the page measure commit → screen."""
        now = time.time()
        for event in events:
            event.setdefault("committed_at", now)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._publish_all, events)

    def _publish_all(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.publish(event)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


def incident_events(changes: Iterable[Change], now: float) -> list[dict[str, Any]]:
    """The one JSON shape of a committed change on every live path: this process's hub and the cross-process
    relay (sharpeyes/distributed/live_relay.py) must not drift apart."""
    return [
        {"type": "incident", "action": c.action, "incident": c.view or c.incident.public(now)}
        for c in changes
        if c.action != "receipt"  # a receipt sent again to a pole: nothing an operator sees changed
    ]


def sse(event: dict[str, Any]) -> str:
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"
