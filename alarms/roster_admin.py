"""Admins' edits of the roster on the page (issue 15): create, update and deactivate people and units, each
with an audit row (who, when, the row before and after). An edited row is marked (``edited_at``) so that
config seeding at the next start leaves it as the admin left it (alarms/roster.py `seed`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Literal

from sqlalchemy import Connection, Table, insert, select, update

from alarms.field_config import PersonFields, UnitFields
from alarms.roster import on_duty
from alarms.storage.schema import people, roster_audit, units

Kind = Literal["person", "unit"]
PERSON_FIELDS = ("name", "role", "unit_id", "phone", "grids", "shifts", "username", "channels", "active")
UNIT_FIELDS = ("name", "kind", "phone", "grids", "active")


class RosterRefused(Exception):
    """An edit the roster cannot take; `code` is translated by the page."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def _record(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: row[f] for f in fields}


def _row(conn: Connection, table: Table, row_id: str) -> Any:
    return conn.execute(select(table).where(table.c.id == row_id)).mappings().first()


def _audit(
    conn: Connection,
    kind: Kind,
    target_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    actor: str,
    now: float,
) -> None:
    conn.execute(
        insert(roster_audit).values(
            ts=now, actor=actor, kind=kind, target_id=target_id, action=action, before=before, after=after
        )
    )


def _write(
    conn: Connection,
    table: Table,
    kind: Kind,
    row_id: str,
    values: dict[str, Any],
    fields: tuple[str, ...],
    actor: str,
    now: float,
) -> tuple[str, dict[str, Any]]:
    """Insert or update one row, mark it as the page's, and audit it; an edit that changes nothing is not
    written (no audit row)."""
    old = _row(conn, table, row_id)
    before = _record(old, fields) if old is not None else None
    after = {f: values[f] for f in fields}
    if before == after:
        return "unchanged", after
    marks = {"updated_at": now, "edited_at": now, "edited_by": actor}
    if old is None:
        conn.execute(insert(table).values(id=row_id, **values, **marks))
        action = "create"
    else:
        conn.execute(update(table).where(table.c.id == row_id).values(**values, **marks))
        action = "deactivate" if before and before["active"] and not after["active"] else "update"
    _audit(conn, kind, row_id, action, before, after, actor, now)
    return action, after


def save_person(
    conn: Connection, person_id: str, body: PersonFields, actor: str, now: float, active: bool = True
) -> str:
    """Create or update a person; the unit must exist and a sign-in name belongs to one active person."""
    if body.unit is not None and _row(conn, units, body.unit) is None:
        raise RosterRefused("roster_unknown_unit", "no such unit", unit=body.unit)
    if body.username:
        taken = conn.execute(
            select(people.c.id).where(
                people.c.username == body.username, people.c.active.is_(True), people.c.id != person_id
            )
        ).first()
        if taken is not None:
            raise RosterRefused("roster_username_taken", "sign-in name used by another person", id=taken[0])
    values = {
        "name": body.name,
        "role": body.role,
        "unit_id": body.unit,
        "phone": body.phone,
        "grids": sorted(set(body.grids)),
        "shifts": [s.model_dump() for s in body.shifts],
        "username": body.username or None,
        "channels": list(body.channels),
        "active": active,
    }
    return _write(conn, people, "person", person_id, values, PERSON_FIELDS, actor, now)[0]


def save_unit(
    conn: Connection, unit_id: str, body: UnitFields, actor: str, now: float, active: bool = True
) -> str:
    values = {
        "name": body.name,
        "kind": body.kind,
        "phone": body.phone,
        "grids": sorted(set(body.grids)),
        "active": active,
    }
    return _write(conn, units, "unit", unit_id, values, UNIT_FIELDS, actor, now)[0]


def deactivate(conn: Connection, kind: Kind, row_id: str, actor: str, now: float) -> bool:
    """Take a person or unit off the roster (kept for past assignments); False if there is none."""
    table, fields = (people, PERSON_FIELDS) if kind == "person" else (units, UNIT_FIELDS)
    old = _row(conn, table, row_id)
    if old is None:
        return False
    values = {f: old[f] for f in fields if f != "active"}
    _write(conn, table, kind, row_id, {**values, "active": False}, fields, actor, now)
    return True


def _in(grids: Collection[str] | None, row_grids: Iterable[str] | None) -> bool:
    """Whether a row covers one of ``grids`` (None: every row, for admins and unscoped callers)."""
    return grids is None or any(g in grids for g in row_grids or ())


def list_people(
    conn: Connection, now: float, timezone: str, grids: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Everyone covering one of ``grids`` (None: everyone), deactivated too (last), with their grids, unit
    and whether they are on duty now."""
    names = {r[0]: r[1] for r in conn.execute(select(units.c.id, units.c.name))}
    rows = conn.execute(select(people).order_by(people.c.active.desc(), people.c.name, people.c.id))
    return [
        {
            "id": r["id"],
            **_record(r, PERSON_FIELDS),
            "unit_name": names.get(r["unit_id"] or ""),
            "on_duty": bool(r["active"]) and on_duty(r["shifts"] or [], now, timezone),
            "edited_at": r["edited_at"],
            "edited_by": r["edited_by"],
        }
        for r in rows.mappings()
        if _in(grids, r["grids"])
    ]


def list_units(conn: Connection, grids: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The units covering one of ``grids`` (None: all), deactivated last."""
    rows = conn.execute(select(units).order_by(units.c.active.desc(), units.c.name, units.c.id)).mappings()
    return [
        {"id": r["id"], **_record(r, UNIT_FIELDS), "edited_at": r["edited_at"], "edited_by": r["edited_by"]}
        for r in rows
        if _in(grids, r["grids"])
    ]


def audit_trail(
    conn: Connection,
    kind: Kind | None = None,
    target_id: str | None = None,
    limit: int = 200,
    grids: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Newest first, with the fields that changed named; with ``grids``, only the edits of rows that covered
    one of them before or after the edit."""
    q = select(roster_audit).order_by(roster_audit.c.id.desc())
    if grids is None:
        q = q.limit(limit)
    if kind is not None:
        q = q.where(roster_audit.c.kind == kind)
    if target_id is not None:
        q = q.where(roster_audit.c.target_id == target_id)
    out: list[dict[str, Any]] = []
    for r in conn.execute(q).mappings():
        before, after = r["before"] or {}, r["after"] or {}
        if not _in(grids, [*(before.get("grids") or ()), *(after.get("grids") or ())]):
            continue
        changed = sorted(k for k in after if before.get(k) != after.get(k))
        out.append({**dict(r), "changed": changed})
        if len(out) == limit:
            break
    return out
