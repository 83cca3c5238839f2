"""Button presence: a retained online/offline status (the device's last will) plus heartbeats. A button
that says offline, or stays silent past its heartbeat timeout, gets a low-priority device incident."""

from __future__ import annotations

import logging

from sqlalchemy import select

from alarms.devices import mark_silent, record_unknown, set_presence
from alarms.engine import Change, IncidentEngine, Trigger
from alarms.storage.schema import devices

log = logging.getLogger(__name__)


class PresenceMonitor:
    def __init__(self, engine: IncidentEngine, timeouts: dict[str, float], started_at: float) -> None:
        self.engine = engine
        self.timeouts = timeouts  # button id -> heartbeat timeout in seconds
        self.started_at = started_at

    def on_status(self, button_id: str, online: bool, now: float) -> list[Change]:
        with self.engine.store.write() as conn:
            prev = set_presence(conn, button_id, "online" if online else "offline", now)
        if prev is None:
            return []
        if online:
            return self.engine.clear_condition("device_offline", button_id, "device reports online", now)
        change = self._raise(button_id, now, "device reports offline (last will)")
        return [change] if change else []

    def check(self, now: float) -> list[Change]:
        """Find buttons silent past their timeout. Before the first message, silence counts from start-up."""
        with self.engine.store.read() as conn:
            rows = conn.execute(
                select(devices.c.id, devices.c.last_seen, devices.c.presence).where(devices.c.known.is_(True))
            ).all()
        changes: list[Change] = []
        for device_id, last_seen, presence in rows:
            timeout = self.timeouts.get(device_id)
            if timeout is None or presence in ("offline", "silent"):
                continue
            if now - max(last_seen or 0.0, self.started_at) > timeout:
                with self.engine.store.write() as conn:
                    mark_silent(conn, device_id)
                change = self._raise(device_id, now, f"no heartbeat for {timeout:.0f} s")
                if change:
                    changes.append(change)
        return changes

    def _raise(self, button_id: str, now: float, note: str) -> Change | None:
        placement = self.engine.directory.placement(button_id)
        if placement is None:
            return None
        return self.engine.raise_condition(
            Trigger("device_offline", "device", button_id, placement, now, note, evidence={"reason": note})
        )

    def record_reject(self, device_id: str, topic: str, reason: str, now: float) -> None:
        with self.engine.store.write() as conn:
            record_unknown(conn, device_id, topic, reason, now)
