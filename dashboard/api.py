"""The REST API: incidents and their actions, devices, deliveries, KPIs and the live event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from alarms.contracts import IncidentBody
from alarms.delivery.outbox import OutboxItem
from alarms.devices import list_devices
from alarms.engine import BadRequest, IncidentNotFound
from alarms.incidents import Incident
from alarms.kpis import kpis
from alarms.lifecycle import TRANSITIONS, InvalidTransition
from alarms.locale import day_start
from alarms.operator_actions import FOLLOW_UP, StaleVersion
from alarms.queries import (
    IncidentFilter,
    delivery_place,
    incident_timeline,
    kpi_rows,
    list_deliveries,
    list_incidents,
    requeue_delivery,
)
from alarms.refusals import ActionRefused
from alarms.timefmt import iso
from dashboard.auth import CurrentPrincipal, Operator, Principal, Supervisor, still_signed_in
from dashboard.errors import CodedError, stale_conflict
from dashboard.incident_push import sse
from dashboard.responses import (
    Delivery,
    DeliveryList,
    DeviceList,
    IncidentDetail,
    IncidentList,
    Kpis,
    media,
)
from dashboard.schemas import MAX_ROW_ID, ActionBody, OptionalRowId, RowId
from dashboard.services import Services

router = APIRouter(prefix="/api")


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]
# Unix seconds within what a datetime can show (years 1970-9999): beyond it, formatting the echo would fail.
Epoch = Annotated[float | None, Query(ge=0, le=253402300799, description="Unix time in seconds")]


def _visible(svc: Services, principal: Principal, incident_id: int) -> Incident:
    try:
        inc = svc.engine.get(incident_id)
    except IncidentNotFound:
        raise CodedError(404, "not_found", "no such incident") from None
    if not principal.scope.allows(inc.street_id, inc.grid_id):
        raise CodedError(404, "not_found", "no such incident")  # do not confirm it exists
    return inc


@router.get("/incidents", response_model=IncidentList)
def get_incidents(
    svc: Svc,
    principal: CurrentPrincipal,
    state: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies query defaults
    category: Annotated[list[str], Query()] = [],  # noqa: B006
    grid: Annotated[list[str], Query()] = [],  # noqa: B006
    street: Annotated[list[str], Query()] = [],  # noqa: B006
    active: bool | None = None,
    since: Epoch = None,
    until: Epoch = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,  # past int64 the database overflows
) -> dict[str, Any]:
    f = IncidentFilter(state, category, grid, street, active, since, until, limit, offset)
    with svc.store.read() as conn:
        rows = list_incidents(conn, f, principal.scope)
    now = svc.clock()
    return {"items": [r.public(now) for r in rows], "count": len(rows)}


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: RowId, request: Request, svc: Svc, principal: CurrentPrincipal
) -> dict[str, Any]:
    inc = _visible(svc, principal, incident_id)
    with svc.store.read() as conn:
        events = incident_timeline(conn, incident_id)
        deliveries = list_deliveries(conn, None, incident_id, None, 200)
    out = inc.public(svc.clock())
    names = _display_names(request)
    out["timeline"] = [{**e, "ts": iso(e["ts"]), "actor_name": names.get(e["actor"])} for e in events]
    out["deliveries"] = [_delivery_out(d) for d in deliveries]
    placement = svc.engine.directory.placement(inc.source_id)  # the page opens these cameras' live video
    out["linked_cameras"] = list(placement.cameras) if placement else []
    if inc.source_kind == "camera" and inc.source_id not in out["linked_cameras"]:
        out["linked_cameras"].insert(0, inc.source_id)
    return out


def _display_names(request: Request) -> dict[str, str]:
    """Who acted, by the name people know them by (users added with --display-name)."""
    signin = getattr(request.app.state, "signin", None)
    return signin.users.display_names() if signin is not None else {}


@router.post("/incidents/{incident_id}/{action}", response_model=IncidentBody)
async def act(
    incident_id: RowId, action: str, body: ActionBody, svc: Svc, principal: Operator
) -> dict[str, Any]:
    if action not in TRANSITIONS and action != FOLLOW_UP:
        known = sorted([*TRANSITIONS, FOLLOW_UP])
        raise CodedError(404, "unknown_action", f"unknown action {action!r}; known: {known}", action=action)
    _visible(svc, principal, incident_id)
    actor = principal.name if not body.actor else f"{principal.name}/{body.actor}"
    try:
        inc = await run_in_threadpool(
            svc.engine.act,
            incident_id,
            action,
            actor,
            body.note,
            assignee=body.assignee,
            disposition=body.disposition,
            evaluation=body.evaluation,
            merged_into=body.merged_into,
            expected_version=body.expected_version,
            silence_s=body.silence_s,
            allows=principal.scope.allows,
        )
    except ActionRefused as exc:  # a merge that would go wrong, a silence out of range: coded for the page
        raise CodedError(422, exc.code, str(exc), action=action, **exc.params) from None
    except StaleVersion as exc:
        raise stale_conflict(exc) from None
    except InvalidTransition as exc:
        raise CodedError(409, "invalid_transition", str(exc), action=action, state=exc.state) from None
    except BadRequest as exc:
        raise CodedError(422, "bad_request", str(exc), action=action) from None
    except IncidentNotFound:
        raise CodedError(404, "not_found", "no such incident") from None
    return inc.public(svc.clock())


@router.get("/devices", response_model=DeviceList)
def get_devices(svc: Svc, principal: CurrentPrincipal) -> dict[str, Any]:
    """Devices in the caller's grids; devices in no grid (unknown to the config) only to unscoped callers."""
    with svc.store.read() as conn:
        rows = [r for r in list_devices(conn) if _device_visible(svc, principal, r.get("grid_id"))]
    for r in rows:
        for k in ("first_seen", "last_seen"):
            r[k] = iso(r[k])
    return {"items": rows, "unknown": [r for r in rows if not r["known"]]}


def _device_visible(svc: Services, principal: Principal, grid_id: str | None) -> bool:
    scope = principal.scope
    if scope.streets is None and scope.grids is None:
        return True
    grid = svc.engine.directory.grids.get(grid_id) if grid_id else None
    return grid is not None and scope.allows(grid.street, grid.id)


def _delivery_visible(principal: Principal, street_id: str | None, grid_id: str | None) -> bool:
    return street_id is None or principal.scope.allows(street_id, grid_id or "")


def _delivery_out(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    for k in ("created_at", "next_attempt_at", "delivered_at", "source_ts"):
        out[k] = iso(out.get(k))
    out["webhook_id"] = out.pop("msg_id")
    return out


@router.get("/deliveries", response_model=DeliveryList)
def get_deliveries(
    svc: Svc,
    principal: CurrentPrincipal,
    status_: Annotated[Literal["pending", "delivered", "dead"] | None, Query(alias="status")] = None,
    incident_id: OptionalRowId = None,
    channel: Literal["webhook", "mqtt"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with svc.store.read() as conn:
        rows = list_deliveries(conn, status_, incident_id, channel, limit)
    rows = [r for r in rows if _delivery_visible(principal, r["street_id"], r["grid_id"])]
    return {"items": [_delivery_out(r) for r in rows], "count": len(rows)}


@router.post("/deliveries/{delivery_id}/retry", response_model=Delivery)
async def retry_delivery(delivery_id: RowId, svc: Svc, principal: Supervisor) -> dict[str, Any]:
    def requeue() -> dict[str, Any] | None:
        with svc.store.write() as conn:
            place = delivery_place(conn, delivery_id)
            if place is None or not _delivery_visible(principal, *place):
                return None  # out of scope answers like a missing one
            return requeue_delivery(conn, delivery_id, svc.clock())

    row = await run_in_threadpool(requeue)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery")
    svc.delivery.resubmit(OutboxItem.from_row(row))
    return _delivery_out({k: v for k, v in row.items() if k != "payload"})


@router.get("/kpis", response_model=Kpis)
def get_kpis(
    svc: Svc,
    principal: CurrentPrincipal,
    since: Epoch = None,
    until: Epoch = None,
    period: Annotated[
        Literal["today"] | None,
        Query(description="today: from the last midnight in locale.timezone (replaces since)"),
    ] = None,
) -> dict[str, Any]:
    if period == "today":  # the day operators live in, not the server's or the browser's
        since = day_start(svc.clock(), svc.timezone)
    with svc.store.read() as conn:
        rows: list[Mapping[str, Any]] = list(kpi_rows(conn, principal.scope, since, until))
    return {"since": iso(since), "until": iso(until), **kpis(rows, svc.clock())}


SESSION_RECHECK_S = 5.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses=media(
        "text/event-stream",
        "Server-sent events: `incident` (data: {type, action, incident, committed_at}, the incident as in "
        "docs/schemas/incident.v1.json) and `resync`; comments as keep-alives.",
        binary=False,
    ),
)
async def events(request: Request, svc: Svc, principal: CurrentPrincipal) -> StreamingResponse:
    """Server-sent events: one `incident` event per committed change the principal may see, and `resync`
    when this process may have missed changes (the page reloads its lists)."""
    sub = svc.hub.subscribe()

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            yield ": connected\n\n"
            while True:
                if loop.time() - checked >= SESSION_RECHECK_S:  # a revoked session stops hearing at once
                    checked = loop.time()
                    if not await run_in_threadpool(still_signed_in, request):
                        return
                try:
                    event = await asyncio.wait_for(sub.queue.get(), SESSION_RECHECK_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                inc = event.get("incident") or event.get("place")  # `viewers` events carry their place
                if inc is None or principal.scope.allows(
                    inc.get("street_id", ""), inc.get("grid_id", "")
                ):  # a stream-wide notice (resync): no incident, nothing to scope
                    yield sse(event)
        finally:
            svc.hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"})
