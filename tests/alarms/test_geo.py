"""WGS-84 → GCJ-02 against published reference values, and grid outlines in GeoJSON: a bad one is refused
with a message that says what is wrong and where (check-config maps it to the file's line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from alarms.config import GridConfig
from alarms.geo import outside_china, wgs84_to_gcj02
from sharpeyes.settings import ConfigError, load_settings

# (WGS-84 lat, lon) → (GCJ-02 lat, lon): the reference pairs of the open implementations (eviltransform's
# test table for Shanghai, Shenzhen and Beijing; coordtransform's README example at Tiananmen).
REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_gcj02_matches_reference_values(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lat, lon = wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-9) and lon == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize("wgs", [(51.5074, -0.1278), (35.6762, 139.6503), (-33.8688, 151.2093)])
def test_gcj02_leaves_places_outside_china_alone(wgs: tuple[float, float]) -> None:
    assert outside_china(*wgs) and wgs84_to_gcj02(*wgs) == wgs


def test_the_shift_is_hundreds_of_metres_in_shanghai() -> None:
    lat, lon = wgs84_to_gcj02(31.2304, 121.4737)
    assert 0.001 < abs(lat - 31.2304) < 0.005 and 0.003 < abs(lon - 121.4737) < 0.006


def grid(geometry: object) -> GridConfig:
    return GridConfig.model_validate({"id": "G", "community": "C", "street": "S", "geometry": geometry})


RING = [[121.47, 31.23], [121.48, 31.23], [121.48, 31.24], [121.47, 31.23]]


def test_polygon_and_multipolygon_are_accepted() -> None:
    assert grid({"type": "Polygon", "coordinates": [RING]}).geometry is not None
    multi = grid({"type": "MultiPolygon", "coordinates": [[RING], [RING]]}).geometry
    assert multi is not None and len(multi.rings()) == 2


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Polygon", "coordinates": [[*RING[:-1], [121.47, 31.24]]]}, "ring 0 is not closed"),
        (
            {"type": "Polygon", "coordinates": [[[121.47, 31.23], [121.48, 31.23], [121.47, 31.23]]]},
            "at least 4",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[31.23, 121.47], [31.24, 121.47], [31.24, 121.48], [31.23, 121.47]]],
            },
            "[longitude, latitude]",
        ),
        ({"type": "Point", "coordinates": [121.47, 31.23]}, "'Polygon', 'MultiPolygon'"),
        ({"type": "Polygon"}, "coordinates"),
        ({"type": "MultiPolygon", "coordinates": [[RING], []]}, "polygon 1 has no rings"),
    ],
)
def test_bad_geojson_is_refused_with_a_clear_message(geometry: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        grid(geometry)
    assert message in str(err.value)


def test_check_config_points_at_the_bad_outline(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "grids:\n"
        "  - id: G-001\n"
        "    community: C-1\n"
        "    street: S-1\n"
        "    geometry: {type: Polygon, coordinates: [[[121.47, 31.23], [121.48, 31.23], [121.48, 31.24]]]}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    text = str(err.value)
    assert "bad.yaml:5" in text and "grids[0].geometry" in text and "at least 4 positions" in text


def test_the_demo_config_has_geography_for_every_grid() -> None:
    demo = Path(__file__).parents[2] / "configs" / "demo.yaml"
    settings = load_settings(demo, env={"DEMO_WEBHOOK_SECRET": "x", "SHARPEYES_ADMIN_TOKEN": "y"})
    assert settings.grids and all(g.geometry is not None for g in settings.grids)
    for g in settings.grids:  # each device sits inside its grid's outline (a bounding-box check)
        ring = g.geometry.rings()[0] if g.geometry else []
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        for d in [*settings.buttons, *settings.cameras]:
            if d.grid == g.id and d.location and d.location.lat is not None and d.location.lon is not None:
                assert min(lats) <= d.location.lat <= max(lats) and min(lons) <= d.location.lon <= max(
                    lons
                ), d.id
