"""The field loop's API (issue 15): the duty roster, dispatch to named people, 督办, review and 回访 for
operators; accept, arrive, notes and 办结 for the field worker signed in on the phone page (role `field`,
scoped to their grids). Every write goes through the engine, so it is on the timeline and, for the people
sent, in the outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from alarms import field_actions as fa
from alarms import roster
from alarms.contracts import IncidentBody
from alarms.engine import BadRequest, IncidentNotFound
from alarms.field_kpis import field_kpis, field_rows
from alarms.field_queries import (
    assignments_of,
    last_words,
    notices_of,
    open_in_grids,
    photo,
    photos_of,
    tasks_for,
)
from alarms.incident_writer import Change, IncidentWriter
from alarms.lifecycle import InvalidTransition
from alarms.refusals import ActionRefused
from alarms.storage.unit_of_work import UnitOfWork
from alarms.timefmt import iso
from dashboard.api import Epoch, Svc, _visible
from dashboard.auth import CurrentPrincipal, Operator, Principal, Supervisor, require
from dashboard.errors import CodedError
from dashboard.field_schemas import (
    ArriveBody,
    CallbackBody,
    DispatchBody,
    FieldKpis,
    FieldView,
    NoteBody,
    ProgressBody,
    ResolveBody,
    ReviewBody,
    Roster,
    Tasks,
)
from dashboard.schemas import OptionalRowId, RowId
from dashboard.services import Services

router = APIRouter(prefix="/api/field", tags=["field"])
FieldWorker = Annotated[Principal, Depends(require("field"))]


@dataclass(frozen=True, slots=True)
class _Write:
    """A field write on an incident the caller may see (checked by :func:`_write`)."""

    svc: Services
    principal: Principal
    incident_id: int

    async def run(self, act: Callable[[fa.Step], list[Change]]) -> dict[str, Any]:
        """The change through the engine, in one transaction; refusals answered with a code the page
        translates."""
        ctx = fa.FieldContext(self.svc.field, self.svc.timezone)

        def body(w: IncidentWriter, uow: UnitOfWork, now: float) -> list[Change]:
            return act(fa.Step(w, uow, ctx, self.incident_id, self.principal.name, now))

        try:
            changes = await run_in_threadpool(self.svc.engine.run_tx, body)
        except ActionRefused as exc:
            raise CodedError(409, exc.code, str(exc), **exc.params) from None
        except InvalidTransition as exc:
            raise CodedError(
                409, "invalid_transition", str(exc), action=exc.action, state=exc.state
            ) from None
        except BadRequest as exc:
            raise CodedError(422, "bad_request", str(exc)) from None
        except IncidentNotFound:
            raise CodedError(404, "not_found", "no such incident") from None
        return changes[-1].incident.public(self.svc.clock())

    async def as_worker(self, act: Callable[[fa.Step, str], list[Change]]) -> dict[str, Any]:
        """The same for the worker signed in on the phone: the person behind the account acts."""
        return await self.run(lambda s: act(s, _me(s.uow.conn, self.principal).id))


def _write(svc: Services, principal: Principal, incident_id: int) -> _Write:
    """Load and check first: an incident outside the caller's scope answers 404 before anything else."""
    _visible(svc, principal, incident_id)
    return _Write(svc, principal, incident_id)


def _me(conn: Connection, principal: Principal) -> roster.Person:
    found = roster.person_for_user(conn, principal.name)
    if found is None:
        raise CodedError(403, "field_no_person", "this account is not a field worker on the roster")
    return found


def _assignment_out(a: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k in ("assigned_at", "accept_deadline", "arrive_deadline", "accepted_at", "arrived_at"):
        out[k] = iso(out[k])
    return out


@router.get("/roster", response_model=Roster)
def get_roster(
    svc: Svc, principal: CurrentPrincipal, grid: str | None = None, incident: OptionalRowId = None
) -> dict[str, Any]:
    """Who covers a grid (or an incident's grid), on duty first, in the order to send them."""
    category = None
    if incident is not None:
        inc = _visible(svc, principal, incident)
        grid, category = inc.grid_id, inc.category
    g = svc.engine.directory.grids.get(grid or "")
    if g is None or not principal.scope.allows(g.street, g.id):
        raise CodedError(404, "not_found", "no such grid")
    with svc.store.read() as conn:
        found = roster.roster(conn, g.id, category, svc.clock(), svc.timezone)
    return {**found, "grid_name": g.name or g.id}


@router.get("/incidents/{incident_id}", response_model=FieldView)
def get_field_view(incident_id: RowId, svc: Svc, principal: CurrentPrincipal) -> dict[str, Any]:
    """Who was sent and how far they got, their photos, and whether each notice reached them."""
    _visible(svc, principal, incident_id)
    with svc.store.read() as conn:
        sent = assignments_of(conn, incident_id)
        pictures = photos_of(conn, incident_id)
        notices = notices_of(conn, incident_id)
    return {
        "incident_id": incident_id,
        "assignments": [_assignment_out(a) for a in sent],
        "photos": [photo_out(p) for p in pictures],
        "notices": [{**n, "delivered_at": iso(n["delivered_at"])} for n in notices],
    }


def photo_out(p: dict[str, Any]) -> dict[str, Any]:
    url = f"/api/field/photos/{p['id']}"
    return {
        **{k: p[k] for k in ("id", "incident_id", "uploaded_by", "media_type", "width", "height", "size")},
        "url": url,
        "thumb_url": f"{url}/thumb",
        "has_location": p["exif_location"] is not None,
        "created_at": iso(p["created_at"]),
    }


@router.post("/incidents/{incident_id}/dispatch", response_model=IncidentBody)
async def dispatch(incident_id: RowId, body: DispatchBody, svc: Svc, principal: Operator) -> dict[str, Any]:
    """Send a lead and helpers from the roster (again while out: a reassignment)."""
    write = _write(svc, principal, incident_id)

    def act(s: fa.Step) -> list[Change]:
        known = fa.sendable(s.uow.conn)

        def pick(ref: Any) -> fa.Target:
            found = known.get(ref.id if ref.kind == "person" else f"unit:{ref.id}")
            if found is None:
                raise ActionRefused("field_unknown_person", f"nobody on the roster is {ref.id!r}", id=ref.id)
            return found

        return fa.dispatch(s, fa.Crew(pick(body.lead), tuple(pick(h) for h in body.helpers), body.note))

    return await write.run(act)


@router.post("/incidents/{incident_id}/urge", response_model=IncidentBody)
async def urge(incident_id: RowId, body: NoteBody, svc: Svc, principal: Supervisor) -> dict[str, Any]:
    """督办: a supervisor urges the people sent, with a note."""
    return await _write(svc, principal, incident_id).run(lambda s: fa.urge(s, body.note))


@router.post("/incidents/{incident_id}/review", response_model=IncidentBody)
async def review(incident_id: RowId, body: ReviewBody, svc: Svc, principal: Operator) -> dict[str, Any]:
    """审核 a resolved incident: close it, or return it to the worker with a reason."""
    return await _write(svc, principal, incident_id).run(lambda s: fa.review(s, body.decision, body.reason))


@router.post("/incidents/{incident_id}/callback", response_model=IncidentBody)
async def callback(incident_id: RowId, body: CallbackBody, svc: Svc, principal: Operator) -> dict[str, Any]:
    """回访 after closing; 不满意 with ``reopen`` sends the incident back to the field."""
    write = _write(svc, principal, incident_id)
    return await write.run(lambda s: fa.callback(s, body.satisfaction, body.note, body.reopen))


# ----- the field worker ----------------------------------------------------------------------------------
@router.get("/tasks", response_model=Tasks)
def tasks(svc: Svc, principal: FieldWorker) -> dict[str, Any]:
    """My tasks, and the open incidents in my grids."""
    now = svc.clock()
    with svc.store.read() as conn:
        me = _me(conn, principal)
        mine = tasks_for(conn, me.id)
        grids = [g for g in me.grids if g in svc.engine.directory.grids]
        others = [i for i in open_in_grids(conn, grids) if i.id not in {inc.id for inc, _ in mine}]
        words = last_words(conn, [inc.id for inc, _ in mine])
    visible = [(i, a) for i, a in mine if principal.scope.allows(i.street_id, i.grid_id)]
    return {
        "person": me.view(roster.on_duty(me.shifts, now, svc.timezone)),
        "tasks": [
            {"incident": i.public(now), "mine": _assignment_out(a), "word": _word(words.get(i.id))}
            for i, a in visible
        ],
        "open": [i.public(now) for i in others if principal.scope.allows(i.street_id, i.grid_id)],
        "photo_max_bytes": svc.field.photo_max_bytes,
    }


def _word(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {"action": row["action"], "note": row["note"], "ts": iso(row["ts"])}


def _photos(svc: Services, incident_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """The photos a note refers to: this incident's, with their links for the webhook."""
    with svc.store.read() as conn:
        found = [photo(conn, i) for i in ids]
    if any(p is None or p["incident_id"] != incident_id for p in found):
        raise CodedError(422, "photo_unknown", "a photo does not belong to this incident")
    base = svc.field.page_url.rsplit("/field", 1)[0]
    return [{"id": p["id"], "url": f"{base}{photo_out(p)['url']}"} for p in found if p]


@router.post("/incidents/{incident_id}/accept", response_model=IncidentBody)
async def accept(incident_id: RowId, svc: Svc, principal: FieldWorker) -> dict[str, Any]:
    """接单."""
    return await _write(svc, principal, incident_id).as_worker(fa.accept)


@router.post("/incidents/{incident_id}/arrive", response_model=IncidentBody)
async def arrive(incident_id: RowId, body: ArriveBody, svc: Svc, principal: FieldWorker) -> dict[str, Any]:
    """到场, with the phone's position when the worker allowed it."""
    write = _write(svc, principal, incident_id)
    where = body.model_dump() if body.lat is not None and body.lon is not None else None
    return await write.as_worker(lambda s, pid: fa.arrive(s, pid, where))


@router.post("/incidents/{incident_id}/progress", response_model=IncidentBody)
async def progress(
    incident_id: RowId, body: ProgressBody, svc: Svc, principal: FieldWorker
) -> dict[str, Any]:
    """A progress note with photos."""
    write = _write(svc, principal, incident_id)
    pics = _photos(svc, incident_id, body.photos)
    return await write.as_worker(lambda s, pid: fa.note(s, pid, body.note, pics))


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentBody)
async def resolve(incident_id: RowId, body: ResolveBody, svc: Svc, principal: FieldWorker) -> dict[str, Any]:
    """办结 with a result, a note and photos."""
    write = _write(svc, principal, incident_id)
    pics = _photos(svc, incident_id, body.photos)
    return await write.as_worker(lambda s, pid: fa.resolve(s, pid, body.result, body.note, pics))


@router.get("/kpis", response_model=FieldKpis)
def get_field_kpis(
    svc: Svc, principal: CurrentPrincipal, since: Epoch = None, until: Epoch = None
) -> dict[str, Any]:
    """满意率 beside 办结率 and 限时办结率; time to accept and arrive; each worker's load."""
    with svc.store.read() as conn:
        rows = field_rows(conn, principal.scope, since, until)
        names = {p.id: p.name for p in roster.load_people(conn)}
    return {"since": iso(since), "until": iso(until), **field_kpis(rows, svc.clock(), names)}
