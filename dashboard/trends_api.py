"""Trends for the KPI page's charts, scoped like the KPIs: a street's operator sees only the street's
incidents. Days are counted in ``locale.timezone``, which the server knows and the browser may not."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from alarms.contracts import IsoTime
from alarms.queries import kpi_rows
from alarms.timefmt import iso
from alarms.trends import trends, window
from dashboard.auth import CurrentPrincipal
from dashboard.services import Services

router = APIRouter(prefix="/api", tags=["kpis"])


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


class WeekRates(BaseModel):
    week: str = Field(description="the week's Monday, YYYY-MM-DD in locale.timezone")
    total: int = Field(description="incidents raised that week")
    closed: int
    closure_rate: float | None = Field(description="closed / (raised - withdrawn); null without incidents")
    closed_within_deadline_rate: float | None = Field(description="closed in time / closed")


class AckDay(BaseModel):
    p50_s: float | None = Field(description="median seconds to acknowledge, incidents raised that day")
    p90_s: float | None


class Trends(BaseModel):
    timezone: str = Field(description="locale.timezone: the zone the days are counted in")
    since: IsoTime = Field(description="the first day's local midnight")
    days: list[str] = Field(description="YYYY-MM-DD, oldest first, ending today")
    categories: dict[str, list[int]] = Field(description="per category, incidents raised each day")
    weeks: list[WeekRates]
    acknowledge: list[AckDay] = Field(description="one per day, aligned with days")


@router.get("/trends", response_model=Trends)
async def get_trends(
    svc: Svc,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=7, le=366, description="how many days back, today included")] = 30,
) -> dict[str, Any]:
    now = svc.clock()
    since, dates = window(now, days, svc.timezone)

    def read() -> dict[str, Any]:
        with svc.store.read() as conn:
            rows = kpi_rows(conn, principal.scope, since, None)
        return trends(rows, dates, svc.timezone, now)

    out = await run_in_threadpool(read)
    return {"timezone": svc.timezone, "since": iso(since), **out}
