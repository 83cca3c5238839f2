"""The roster as admins edit it on the page (issue 15): people and units with their grids, duty shifts and
on-duty state for operators and up, each seeing those who cover the grids of their scope (admins all);
create, update and deactivate for admins only, each change in the audit trail. A row edited here is the
page's from then on: config seeding at start no longer overwrites it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from alarms import roster_admin as ra
from alarms.field_config import ID_PATTERN, PersonFields, UnitFields
from alarms.timefmt import iso
from dashboard.api import Svc
from dashboard.auth import Admin, Operator, Principal
from dashboard.errors import CodedError

router = APIRouter(prefix="/api/roster", tags=["roster"])
RowKey = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


class PersonEdit(PersonFields):
    active: bool = Field(True, description="false takes the person off the roster (kept for history)")


class UnitEdit(UnitFields):
    active: bool = True


class ShiftOut(BaseModel):
    days: list[int]
    start: str
    end: str


class PersonOut(BaseModel):
    id: str
    name: str
    role: str
    unit_id: str | None
    unit_name: str | None
    phone: str | None
    grids: list[str]
    shifts: list[ShiftOut]
    username: str | None
    channels: list[str]
    active: bool
    on_duty: bool = Field(description="Active and within one of their shifts now.")
    edited_at: str | None = Field(description="Last edit on the page; null: as seeded from config.")
    edited_by: str | None


class PeopleList(BaseModel):
    items: list[PersonOut]


class UnitOut(BaseModel):
    id: str
    name: str
    kind: str
    phone: str | None
    grids: list[str]
    active: bool
    edited_at: str | None
    edited_by: str | None


class UnitList(BaseModel):
    items: list[UnitOut]


class Saved(BaseModel):
    action: str = Field(description="create, update, deactivate or unchanged (nothing written)")
    id: str


class AuditEntry(BaseModel):
    id: int
    ts: str
    actor: str
    kind: str
    target_id: str
    action: str
    before: dict[str, Any] | None = Field(description="The row before; null for a creation.")
    after: dict[str, Any] | None
    changed: list[str] = Field(description="Fields whose value differs between before and after.")


class AuditList(BaseModel):
    items: list[AuditEntry]


def _check_grids(svc: Svc, grids: list[str]) -> None:
    unknown = sorted(g for g in grids if g not in svc.engine.directory.grids)
    if unknown:
        raise CodedError(422, "roster_unknown_grid", "no such grid", grid=unknown[0])


def _grids_seen(svc: Svc, principal: Principal) -> frozenset[str] | None:
    """The grids whose people and units the caller sees: admins and unscoped callers all (None), others
    those in their streets or grids, like the incidents they see."""
    scope = principal.scope
    if principal.at_least("admin") or (scope.streets is None and scope.grids is None):
        return None
    return frozenset(g.id for g in svc.engine.directory.grids.values() if scope.allows(g.street, g.id))


def _refused(exc: ra.RosterRefused) -> CodedError:
    return CodedError(422, exc.code, str(exc), **exc.params)


def _stamped(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "edited_at": iso(row["edited_at"])}


@router.get("/people", response_model=PeopleList)
def get_people(svc: Svc, principal: Operator) -> dict[str, Any]:
    """Everyone on the roster in the caller's scope (deactivated last) with their grids and whether they
    are on duty now."""
    with svc.store.read() as conn:
        rows = ra.list_people(conn, svc.clock(), svc.timezone, _grids_seen(svc, principal))
    return {"items": [_stamped(r) for r in rows]}


@router.put("/people/{person_id}", response_model=Saved)
def put_person(person_id: RowKey, body: PersonEdit, svc: Svc, principal: Admin) -> dict[str, Any]:
    """Create or update a person; audited, and config no longer overwrites them."""
    _check_grids(svc, body.grids)
    fields = PersonFields.model_validate(body.model_dump(exclude={"active"}))
    try:
        with svc.store.write() as conn:
            action = ra.save_person(conn, person_id, fields, principal.name, svc.clock(), body.active)
    except ra.RosterRefused as exc:
        raise _refused(exc) from None
    return {"action": action, "id": person_id}


@router.post("/people/{person_id}/deactivate", response_model=Saved)
def deactivate_person(person_id: RowKey, svc: Svc, principal: Admin) -> dict[str, Any]:
    """Off the roster and no longer offered for dispatch; past assignments keep the name."""
    return _deactivate(svc, "person", person_id, principal.name)


@router.get("/units", response_model=UnitList)
def get_units(svc: Svc, principal: Operator) -> dict[str, Any]:
    """The units covering a grid in the caller's scope (deactivated last)."""
    with svc.store.read() as conn:
        rows = ra.list_units(conn, _grids_seen(svc, principal))
    return {"items": [_stamped(r) for r in rows]}


@router.put("/units/{unit_id}", response_model=Saved)
def put_unit(unit_id: RowKey, body: UnitEdit, svc: Svc, principal: Admin) -> dict[str, Any]:
    """Create or update a unit; audited, and config no longer overwrites it."""
    _check_grids(svc, body.grids)
    fields = UnitFields.model_validate(body.model_dump(exclude={"active"}))
    with svc.store.write() as conn:
        action = ra.save_unit(conn, unit_id, fields, principal.name, svc.clock(), body.active)
    return {"action": action, "id": unit_id}


@router.post("/units/{unit_id}/deactivate", response_model=Saved)
def deactivate_unit(unit_id: RowKey, svc: Svc, principal: Admin) -> dict[str, Any]:
    return _deactivate(svc, "unit", unit_id, principal.name)


def _deactivate(svc: Svc, kind: ra.Kind, row_id: str, actor: str) -> dict[str, Any]:
    with svc.store.write() as conn:
        found = ra.deactivate(conn, kind, row_id, actor, svc.clock())
    if not found:
        raise CodedError(404, "not_found", f"no such {kind}")
    return {"action": "deactivate", "id": row_id}


@router.get("/audit", response_model=AuditList)
def get_audit(
    svc: Svc,
    principal: Operator,
    kind: Literal["person", "unit"] | None = None,
    target: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Page edits of the roster in the caller's scope, newest first: who, when, and the row before and
    after."""
    with svc.store.read() as conn:
        rows = ra.audit_trail(conn, kind, target, limit, _grids_seen(svc, principal))
    return {"items": [{**r, "ts": iso(r["ts"])} for r in rows]}
