"""Trends and the geographic map over HTTP (issue 16, items 3 and 4): incidents counted per day in
locale.timezone, weekly rates and time to acknowledge, scoped like the KPIs; grid outlines and device
positions in the base map's datum, scoped; a tile server admitted by the page's CSP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from alarms.config import GridConfig
from alarms.geo import wgs84_to_gcj02
from dashboard.app import create_app
from dashboard.map_config import MapConfig, MapSite, TileConfig
from tests.dashboard.test_api import FakeRuntime, auth


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_counts_per_day_follow_the_configured_zone(tmp_path: Path) -> None:
    rt = FakeRuntime(tmp_path / "t.db")
    with TestClient(create_app(rt)) as client:
        rt.clock.now = utc(2024, 4, 30, 15, 30)  # 23:30 on 30 April in Beijing
        rt.press("B-001")
        rt.clock.now = utc(2024, 4, 30, 16, 30)  # 00:30 on 1 May in Beijing, still 30 April in UTC
        rt.press("B-003")
        rt.clock.now = utc(2024, 5, 1, 4, 0)

        body = client.get("/api/trends", params={"days": 7}, headers=auth("admin")).json()
        assert body["timezone"] == "Asia/Shanghai"
        assert body["days"][-2:] == ["2024-04-30", "2024-05-01"] and len(body["days"]) == 7
        assert body["since"] == "2024-04-24T16:00:00.000Z"  # local midnight of the first day
        assert body["categories"] == {"sos": [0, 0, 0, 0, 0, 1, 1]}
        assert len(body["acknowledge"]) == 7

        rt.services.timezone = "UTC"
        in_utc = client.get("/api/trends", params={"days": 7}, headers=auth("admin")).json()
        assert in_utc["days"][-1] == "2024-05-01" and in_utc["categories"] == {"sos": [0, 0, 0, 0, 0, 2, 0]}


def test_trends_are_scoped_like_the_kpis(tmp_path: Path) -> None:
    rt = FakeRuntime(tmp_path / "s.db")
    with TestClient(create_app(rt)) as client:
        rt.clock.now = utc(2024, 5, 1, 2, 0)
        rt.press("B-001")  # street S-1
        rt.press("B-003")  # street S-2
        admin = client.get("/api/trends", headers=auth("admin")).json()
        street2 = client.get("/api/trends", headers=auth("street2")).json()
    assert sum(admin["categories"]["sos"]) == 2
    assert sum(street2["categories"]["sos"]) == 1
    assert sum(w["total"] for w in street2["weeks"]) == 1


def test_weekly_rates_and_time_to_acknowledge(tmp_path: Path) -> None:
    rt = FakeRuntime(tmp_path / "w.db")
    with TestClient(create_app(rt)) as client:
        rt.clock.now = utc(2024, 5, 6, 2, 0)  # Monday 10:00 in Beijing
        first = rt.press("B-001")
        rt.press("B-003", seq=2)
        rt.clock.now += 90
        for action in ("acknowledge", "dispatch", "start", "resolve", "close"):
            body = {"note": "x", "assignee": "unit-1", "disposition": "handled"}
            r = client.post(f"/api/incidents/{first}/{action}", json=body, headers=auth("admin"))
            assert r.status_code == 200, (action, r.text)
        body = client.get("/api/trends", params={"days": 14}, headers=auth("admin")).json()
    this_week = body["weeks"][-1]
    assert this_week["week"] == "2024-05-06"
    assert (this_week["total"], this_week["closed"], this_week["closure_rate"]) == (2, 1, 0.5)
    assert body["weeks"][0]["total"] == 0 and body["weeks"][0]["closure_rate"] is None
    assert body["acknowledge"][-1] == {"p50_s": 90.0, "p90_s": 90.0}
    assert body["acknowledge"][0] == {"p50_s": None, "p90_s": None}


@pytest.mark.parametrize("days", [0, 6, 367])
def test_a_range_out_of_bounds_is_refused(tmp_path: Path, days: int) -> None:
    rt = FakeRuntime(tmp_path / "r.db")
    with TestClient(create_app(rt)) as client:
        assert client.get("/api/trends", params={"days": days}, headers=auth("admin")).status_code == 422


SQUARE = [[121.47, 31.23], [121.48, 31.23], [121.48, 31.24], [121.47, 31.24], [121.47, 31.23]]


def _geo_runtime(tmp_path: Path, datum: str) -> FakeRuntime:
    rt = FakeRuntime(tmp_path / "m.db")
    grids = rt.engine.directory.grids
    grids["G-001"] = GridConfig(
        id="G-001", community="C-1", street="S-1", geometry={"type": "Polygon", "coordinates": [SQUARE]}
    )
    grids["G-003"] = GridConfig(
        id="G-003", community="C-2", street="S-2", polygon=[(0, 0), (10, 0), (10, 10)]
    )
    rt.services.map = MapConfig(datum=datum)  # type: ignore[arg-type]
    rt.services.map_sites = (
        MapSite("B-001", "button", "人民路 12 号", "G-001", 31.2304, 121.4737),
        MapSite("CAM-03", "camera", "西山林区", "G-003", 31.2420, 121.4598),
    )
    return rt


def test_map_serves_outlines_and_devices_in_the_base_maps_datum(tmp_path: Path) -> None:
    rt = _geo_runtime(tmp_path, "gcj02")
    with TestClient(create_app(rt)) as client:
        body = client.get("/api/map", headers=auth("admin")).json()
    assert body["datum"] == "gcj02" and body["geographic"] is True and body["tiles"] is None
    grids = {g["id"]: g for g in body["grids"]}
    lat, lon = wgs84_to_gcj02(31.23, 121.47)
    assert grids["G-001"]["rings"][0][0] == pytest.approx([lat, lon])  # [lat, lon], shifted
    assert grids["G-001"]["polygon"] is None
    assert grids["G-003"]["rings"] is None and grids["G-003"]["polygon"] == [[0, 0], [10, 0], [10, 10]]
    button = next(d for d in body["devices"] if d["id"] == "B-001")
    assert (button["lat"], button["lon"]) == pytest.approx(wgs84_to_gcj02(31.2304, 121.4737))
    assert button["kind"] == "button" and button["name"] == "人民路 12 号"


def test_map_is_scoped_and_wgs84_is_served_as_configured(tmp_path: Path) -> None:
    rt = _geo_runtime(tmp_path, "wgs84")
    with TestClient(create_app(rt)) as client:
        body = client.get("/api/map", headers=auth("street2")).json()
    assert [g["id"] for g in body["grids"]] == ["G-003"]
    assert [d["id"] for d in body["devices"]] == ["CAM-03"]
    assert (body["devices"][0]["lat"], body["devices"][0]["lon"]) == (31.2420, 121.4598)
    assert body["geographic"] is False  # this caller's grids have no geography: the page draws the sketch


def test_a_tile_server_is_admitted_by_the_page_csp_for_images_only(tmp_path: Path) -> None:
    rt = _geo_runtime(tmp_path, "gcj02")
    rt.services.map = MapConfig(
        datum="gcj02",
        tiles=TileConfig(url="https://t{s}.tiles.district.example/{z}/{x}/{y}.png", subdomains=["1", "2"]),
    )
    app = create_app(rt)

    class NoSignIn:  # an operator's session without the sign-in machinery
        def session(self, request: object) -> object:
            return SimpleNamespace(user=SimpleNamespace(role="operator"))

    with TestClient(app) as client:
        app.state.signin = NoSignIn()
        page = client.get("/ui/", follow_redirects=False)
        body = client.get("/api/map", headers=auth("admin")).json()
    csp = page.headers["content-security-policy"]
    img = next(d for d in csp.split(";") if d.strip().startswith("img-src"))
    assert "https://t1.tiles.district.example" in img and "https://t2.tiles.district.example" in img
    assert "tiles.district.example" not in csp.replace(img, "")  # scripts and connections stay 'self'
    assert body["tiles"]["url"].endswith("/{z}/{x}/{y}.png")
