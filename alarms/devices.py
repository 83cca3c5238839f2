"""Device presence and flags: last seen, online/offline, battery and tamper, and unknown senders."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alarms.grids import Placement
from alarms.storage.schema import devices
from ingest.types import PanicSignal, SignalKind


def _upsert(conn: Connection) -> postgresql.Insert | sqlite.Insert:
    """INSERT … ON CONFLICT in the store's dialect (both spell it the same way)."""
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


_TOUCH = (
    update(devices)
    .where(devices.c.id == bindparam("b_id"))
    .values(
        last_seen=bindparam("b_seen"),
        last_kind=bindparam("b_kind"),
        last_seq=bindparam("b_seq"),
        presence="online",
        messages=devices.c.messages + 1,
        battery_low=func.coalesce(bindparam("b_battery_low", type_=Boolean), devices.c.battery_low),
        tamper=func.coalesce(bindparam("b_tamper", type_=Boolean), devices.c.tamper),
    )
)


def _flags(sig: PanicSignal) -> tuple[bool | None, bool | None]:
    """(battery_low, tamper) as this message reports them; None leaves the stored flag alone."""
    if sig.kind is SignalKind.LOW_BATTERY:
        return True, None
    if sig.kind is SignalKind.TAMPER:
        return None, True
    if sig.kind is SignalKind.HEARTBEAT and "battery" in sig.extra:
        battery = sig.extra["battery"]
        if isinstance(battery, int | float):
            return battery < 20, None
    return None, None


def touch_devices(conn: Connection, seen: list[tuple[PanicSignal, Placement]]) -> None:
    """Record that these devices were heard: one executemany for the batch; a device missing from the
    table (registered after start) is inserted."""
    if not seen:
        return
    params = []
    for sig, _ in seen:
        battery_low, tamper = _flags(sig)
        params.append(
            {
                "b_id": sig.button_id,
                "b_seen": sig.received_at,
                "b_kind": sig.kind.value,
                "b_seq": sig.seq,
                "b_battery_low": battery_low,
                "b_tamper": tamper,
            }
        )
    if conn.execute(_TOUCH, params).rowcount == len(params):
        return
    ids = {sig.button_id for sig, _ in seen}
    present = set(conn.execute(select(devices.c.id).where(devices.c.id.in_(ids))).scalars())
    inserted: dict[str, dict[str, Any]] = {}
    for (sig, placement), p in zip(seen, params, strict=True):
        if sig.button_id in present:
            continue
        row = inserted.get(sig.button_id)
        if row is None:
            row = inserted[sig.button_id] = {
                "id": sig.button_id,
                "kind": "button",
                "known": True,
                "grid_id": placement.grid_id,
                "first_seen": sig.received_at,
                "presence": "online",
                "messages": 0,
                "battery_low": False,
                "tamper": False,
            }
        row.update(last_seen=sig.received_at, last_kind=sig.kind.value, last_seq=sig.seq)
        row["messages"] += 1
        if p["b_battery_low"] is not None:
            row["battery_low"] = p["b_battery_low"]
        if p["b_tamper"] is not None:
            row["tamper"] = p["b_tamper"]
    for row in inserted.values():
        conn.execute(_upsert(conn).values(**row).on_conflict_do_nothing())


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
