"""One time zone for people over HTTP (issue 14, item 8): /auth/me tells the page the configured zone,
and the KPIs' "today" begins at midnight in that zone, not the server's nor the browser's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from dashboard.app import create_app
from tests.dashboard.test_api import FakeRuntime, auth


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_me_serves_the_configured_zone(tmp_path: Path) -> None:
    rt = FakeRuntime(tmp_path / "me.db")
    rt.services.timezone = "Asia/Urumqi"
    with TestClient(create_app(rt)) as client:
        me = client.get("/auth/me", headers=auth("operator"))
    assert me.status_code == 200 and me.json()["timezone"] == "Asia/Urumqi"


def test_today_begins_at_midnight_in_the_configured_zone(tmp_path: Path) -> None:
    rt = FakeRuntime(tmp_path / "kpi.db")
    with TestClient(create_app(rt)) as client:
        rt.clock.now = utc(2024, 4, 30, 15, 30)  # 23:30 on 30 April in Beijing
        rt.press("B-001")
        rt.clock.now = utc(2024, 4, 30, 16, 30)  # 00:30 on 1 May in Beijing
        rt.press("B-003")
        rt.clock.now = utc(2024, 4, 30, 17, 0)  # 01:00 on 1 May in Beijing; still 30 April in UTC

        beijing = client.get("/api/kpis", params={"period": "today"}, headers=auth("admin")).json()
        assert beijing["since"] == "2024-04-30T16:00:00.000Z"
        assert beijing["overall"]["total"] == 1  # the 23:30 press was yesterday

        rt.services.timezone = "UTC"
        in_utc = client.get("/api/kpis", params={"period": "today"}, headers=auth("admin")).json()
        assert in_utc["since"] == "2024-04-30T00:00:00.000Z" and in_utc["overall"]["total"] == 2

        bad = client.get("/api/kpis", params={"period": "yesterday"}, headers=auth("admin"))
        assert bad.status_code == 422
