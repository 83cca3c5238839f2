"""GET /api/search: every incident ever stored, by id, keyword, category, state, street, grid, worker and
date, in the caller's scope, a keyset page at a time (alarms/search.py). The export routes
(dashboard/export_api.py) take the same filters through `Filters`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from alarms.contracts import IncidentBody
from alarms.lifecycle import State
from alarms.locale import zone
from alarms.search import MAX_PAGE, BadSearch, SearchFilter, search_page
from dashboard.auth import CurrentPrincipal
from dashboard.errors import CodedError
from dashboard.schemas import MAX_ROW_ID
from dashboard.services import Services

router = APIRouter(prefix="/api", tags=["search"])

_STATES = frozenset(s.value for s in State)
Values = Annotated[list[str], Query(max_length=50)]
Epoch = Annotated[float | None, Query(ge=0, le=253402300799, description="Unix time in seconds")]
LocalDate = Annotated[
    str | None, Query(max_length=10, description="YYYY-MM-DD in locale.timezone (inclusive)")
]


class SearchPage(BaseModel):
    items: list[IncidentBody] = Field(description="Matching incidents in the caller's scope, newest first.")
    count: int = Field(description="Number of items in this page.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _day(value: str | None, field: str, timezone: str) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CodedError(422, "bad_date", f"{field}: a date as YYYY-MM-DD", field=field) from None
    return datetime(day.year, day.month, day.day, tzinfo=zone(timezone))


def filters(
    request: Request,
    id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="incident id")] = None,
    q: Annotated[str | None, Query(max_length=100, description="keyword: notes, address, names")] = None,
    category: Values = [],  # noqa: B006 - FastAPI copies query defaults
    state: Values = [],  # noqa: B006
    street: Values = [],  # noqa: B006
    grid: Values = [],  # noqa: B006
    assignee: Values = [],  # noqa: B006
    since: Epoch = None,
    until: Epoch = None,
    date_from: LocalDate = None,
    date_to: LocalDate = None,
) -> SearchFilter:
    """The filters, checked: a coded 422 says which one is wrong."""
    svc: Services = request.app.state.services
    unknown = sorted(set(state) - _STATES)
    if unknown:
        raise CodedError(422, "unknown_state", f"unknown state(s) {unknown}", states=unknown)
    start = _day(date_from, "date_from", svc.timezone)
    end = _day(date_to, "date_to", svc.timezone)
    if start is not None:
        since = max(since or 0.0, start.timestamp())
    if end is not None:  # the whole last day, whatever its length in this zone
        nxt = end.date() + timedelta(days=1)
        end_ts = datetime(nxt.year, nxt.month, nxt.day, tzinfo=end.tzinfo).timestamp()
        until = end_ts if until is None else min(until, end_ts)
    if since is not None and until is not None and since >= until:
        raise CodedError(422, "bad_range", "the start of the date range is not before its end")
    f = SearchFilter(id, q, category, state, street, grid, assignee, since, until)
    try:
        f.query()
    except BadSearch as exc:
        raise CodedError(422, exc.code, str(exc)) from None
    return f


Filters = Annotated[SearchFilter, Depends(filters)]


@router.get("/search", response_model=SearchPage)
def search(
    request: Request,
    principal: CurrentPrincipal,
    f: Filters,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """A page of history. Street- or grid-scoped callers see only their scope."""
    svc: Services = request.app.state.services
    try:
        with svc.store.read() as conn:
            page = search_page(conn, f, principal.scope, cursor, limit)
    except BadSearch as exc:
        raise CodedError(400, exc.code, str(exc)) from None
    now = svc.clock()
    return {
        "items": [i.public(now) for i in page.items],
        "count": len(page.items),
        "next_cursor": page.next_cursor,
    }
