"""The duty roster: people and units from config in the database, and who is on duty for a grid now, in
the order an operator should send them (the grid's own worker first; for fire the covering fire station,
for an SOS the grid's police officer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from alarms.field_config import PersonConfig, UnitConfig
from alarms.locale import zone
from alarms.storage.schema import people, units


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    role: str
    unit_id: str | None
    phone: str | None
    grids: tuple[str, ...]
    shifts: tuple[dict[str, Any], ...]
    username: str | None
    channels: tuple[str, ...]

    @classmethod
    def from_row(cls, r: Any) -> Person:
        return cls(
            r["id"],
            r["name"],
            r["role"],
            r["unit_id"],
            r["phone"],
            tuple(r["grids"] or ()),
            tuple(r["shifts"] or ()),
            r["username"],
            tuple(r["channels"] or ()),
        )

    def view(self, on_duty: bool, unit_name: str | None = None) -> dict[str, Any]:
        """What pages see: the name and role, and the phone so the operator can call."""
        return {
            "kind": "person",
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "unit_id": self.unit_id,
            "unit_name": unit_name,
            "phone": self.phone,
            "grids": list(self.grids),
            "on_duty": on_duty,
        }


def seed(
    conn: Connection, persons: Sequence[PersonConfig], unit_list: Sequence[UnitConfig], now: float
) -> None:
    """Config seeds the roster at start: rows are upserted, those no longer listed are deactivated (never
    deleted: past assignments name them). A row an admin edited on the page (``edited_at`` set) is the
    page's from then on, so a restart never undoes an admin's change."""
    unit_rows = {
        u.id: {"name": u.name, "kind": u.kind, "phone": u.phone, "grids": list(u.grids)} for u in unit_list
    }
    _upsert_listed(conn, units, unit_rows, now)
    people_rows = {
        p.id: {
            "name": p.name,
            "role": p.role,
            "unit_id": p.unit,
            "phone": p.phone,
            "grids": list(p.grids),
            "shifts": [s.model_dump() for s in p.shifts],
            "username": p.username,
            "channels": list(p.channels),
        }
        for p in persons
    }
    _upsert_listed(conn, people, people_rows, now)


def _upsert_listed(conn: Connection, table: Table, rows: dict[str, dict[str, Any]], now: float) -> None:
    """Upsert the listed rows (active) and deactivate the rest, leaving rows edited on the page alone."""
    untouched = table.c.edited_at.is_(None)
    for row_id, fields in rows.items():
        values = {**fields, "active": True, "updated_at": now}
        if _exists(conn, table, row_id):
            conn.execute(update(table).where(table.c.id == row_id, untouched).values(**values))
        else:
            conn.execute(insert(table).values(id=row_id, **values))
    stale = table.c.id.not_in(list(rows)) if rows else table.c.id.is_not(None)
    conn.execute(
        update(table).where(stale, untouched, table.c.active.is_(True)).values(active=False, updated_at=now)
    )


def _exists(conn: Connection, table: Table, row_id: str) -> bool:
    return conn.execute(select(table.c.id).where(table.c.id == row_id)).first() is not None


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def on_duty(shifts: Sequence[dict[str, Any]], now: float, timezone: str) -> bool:
    """Whether any shift covers `now` in the configured time zone (a night shift counts on its start day)."""
    local = datetime.fromtimestamp(now, zone(timezone))
    minute = local.hour * 60 + local.minute
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    for s in shifts:
        start, end = _minutes(s.get("start", "00:00")), _minutes(s.get("end", "24:00"))
        days = s.get("days", list(range(7)))
        if start < end and today in days and start <= minute < end:
            return True
        if start >= end and ((today in days and minute >= start) or (yesterday in days and minute < end)):
            return True
    return False


def load_people(conn: Connection) -> list[Person]:
    rows = conn.execute(select(people).where(people.c.active.is_(True)).order_by(people.c.id)).mappings()
    return [Person.from_row(r) for r in rows]


def person(conn: Connection, person_id: str) -> Person | None:
    row = conn.execute(select(people).where(people.c.id == person_id)).mappings().first()
    return Person.from_row(row) if row else None


def person_for_user(conn: Connection, username: str) -> Person | None:
    """The field worker behind a sign-in name."""
    row = (
        conn.execute(select(people).where(people.c.username == username, people.c.active.is_(True)))
        .mappings()
        .first()
    )
    return Person.from_row(row) if row else None


def unit_names(conn: Connection) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute(select(units.c.id, units.c.name))}


def roster_units(conn: Connection) -> list[dict[str, Any]]:
    """Active units only: a deactivated unit is no longer offered for dispatch."""
    rows = conn.execute(select(units).where(units.c.active.is_(True)).order_by(units.c.id)).mappings()
    return [
        {
            "kind": "unit",
            "id": u["id"],
            "name": u["name"],
            "unit_kind": u["kind"],
            "phone": u["phone"],
            "grids": list(u["grids"] or []),
        }
        for u in rows
    ]


# For each category, which roles and unit kinds come after the grid's own worker.
_ROLE_ORDER = {"grid_worker": 0, "community": 2, "police": 3, "firefighter": 4, "urban_management": 5}
_FIRST_AFTER_WORKER = {"sos": "police", "fire": "firefighter", "smoke": "firefighter"}
_UNIT_FOR = {"sos": "police_station", "fire": "fire_station", "smoke": "fire_station"}


def roster(conn: Connection, grid_id: str, category: str | None, now: float, timezone: str) -> dict[str, Any]:
    """Who covers the grid, on duty first and in dispatch order; units that cover it (the category's own
    unit kind first)."""
    names = unit_names(conn)
    covering = [p for p in load_people(conn) if grid_id in p.grids]
    preferred = _FIRST_AFTER_WORKER.get(category or "")

    def rank(p: Person) -> tuple[int, int, str]:
        order = 1 if p.role == preferred else _ROLE_ORDER.get(p.role, 9)
        return (0 if on_duty(p.shifts, now, timezone) else 1, order, p.name)

    persons = [
        p.view(on_duty(p.shifts, now, timezone), names.get(p.unit_id or ""))
        for p in sorted(covering, key=rank)
    ]
    kind = _UNIT_FOR.get(category or "")
    unit_views = [u for u in roster_units(conn) if grid_id in u["grids"]]
    unit_views.sort(key=lambda u: (u["unit_kind"] != kind, u["name"]))
    return {"grid_id": grid_id, "people": persons, "units": unit_views}
