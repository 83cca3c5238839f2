"""Device presence and flags: last seen, online/offline, battery and tamper, and unknown senders."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alarms.grids import Placement
from alarms.schema import devices
from ingest.types import PanicSignal, SignalKind


def _upsert(conn: Connection):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(devices)


def ensure_devices(conn: Connection, placements: dict[str, Placement], kind: str = "button") -> None:
    """Register configured devices so presence can be judged from the first second."""
    for device_id, place in placements.items():
        conn.execute(
            _upsert(conn)
            .values(
                id=device_id,
                kind=kind,
                known=True,
                grid_id=place.grid_id,
                presence="unknown",
                messages=0,
                battery_low=False,
                tamper=False,
            )
            .on_conflict_do_update(index_elements=["id"], set_={"known": True, "grid_id": place.grid_id})
        )


def touch_device(conn: Connection, sig: PanicSignal, placement: Placement) -> None:
    values: dict[str, Any] = {
        "last_seen": sig.received_at,
        "last_kind": sig.kind.value,
        "last_seq": sig.seq,
        "presence": "online",
        "messages": devices.c.messages + 1,
    }
    if sig.kind is SignalKind.LOW_BATTERY:
        values["battery_low"] = True
    elif sig.kind is SignalKind.TAMPER:
        values["tamper"] = True
    elif sig.kind is SignalKind.HEARTBEAT and "battery" in sig.extra:
        battery = sig.extra["battery"]
        if isinstance(battery, int | float):
            values["battery_low"] = battery < 20
    result = conn.execute(update(devices).where(devices.c.id == sig.button_id).values(**values))
    if result.rowcount == 0:
        values["messages"] = 1
        conn.execute(
            _upsert(conn)
            .values(
                id=sig.button_id,
                kind="button",
                known=True,
                grid_id=placement.grid_id,
                first_seen=sig.received_at,
                battery_low=values.get("battery_low", False),
                tamper=values.get("tamper", False),
                **{k: v for k, v in values.items() if k not in ("battery_low", "tamper")},
            )
            .on_conflict_do_nothing()
        )


def set_presence(conn: Connection, device_id: str, presence: str, now: float) -> str | None:
    """Record presence; returns the previous value (None when the device is not registered)."""
    prev = conn.execute(select(devices.c.presence).where(devices.c.id == device_id)).scalar()
    if prev is None:
        return None
    conn.execute(update(devices).where(devices.c.id == device_id).values(presence=presence, last_seen=now))
    return prev


def mark_silent(conn: Connection, device_id: str) -> None:
    conn.execute(update(devices).where(devices.c.id == device_id).values(presence="silent"))


def record_unknown(conn: Connection, device_id: str, topic: str, reason: str, now: float) -> None:
    """Unknown or misbehaving senders are listed for operators, not silently dropped."""
    conn.execute(
        _upsert(conn)
        .values(
            id=device_id,
            kind="button",
            known=False,
            presence="unknown",
            first_seen=now,
            last_seen=now,
            messages=1,
            last_topic=topic[:256],
            last_error=reason[:256],
            battery_low=False,
            tamper=False,
        )
        .on_conflict_do_update(
            index_elements=["id"],
            set_={
                "last_seen": now,
                "last_topic": topic[:256],
                "last_error": reason[:256],
                "messages": devices.c.messages + 1,
            },
        )
    )


def list_devices(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(devices).order_by(devices.c.known.desc(), devices.c.id)).mappings()
    return [dict(r) for r in rows]
