"""Geography for the map: grid outlines as GeoJSON (RFC 7946: [lon, lat] in WGS-84) and the WGS-84 → GCJ-02
shift that Chinese base maps (AMap, Tencent, most district tile servers) are drawn in. Config is always
WGS-84 (what GPS and surveyors give); the shift is applied only for display, so an outline and a marker
land on the same street of a GCJ-02 base map instead of ~500 m away."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from ingest.config import Strict

Position = tuple[float, float]  # [lon, lat], GeoJSON order
Ring = list[Position]

# The published GCJ-02 constants (Krasovsky 1940 ellipsoid): every open implementation uses these.
_A = 6378245.0
_EE = 0.00669342162296594323


def _check_ring(ring: Ring, where: str) -> Ring:
    if len(ring) < 4:
        raise ValueError(f"{where} needs at least 4 positions (a closed triangle), got {len(ring)}")
    if ring[0] != ring[-1]:
        raise ValueError(f"{where} is not closed: its first and last positions must be equal")
    for lon, lat in ring:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(
                f"{where} has position [{lon}, {lat}] outside [lon, lat] range "
                "(GeoJSON order is [longitude, latitude], WGS-84)"
            )
    return ring


class GeoPolygon(Strict):
    """A GeoJSON Polygon geometry: outer ring first, then holes; positions [lon, lat] in WGS-84."""

    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1, description="rings of [lon, lat] positions, each closed")

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, rings: list[Ring]) -> list[Ring]:
        return [_check_ring(r, f"ring {i}") for i, r in enumerate(rings)]

    def rings(self) -> list[Ring]:
        return self.coordinates


class GeoMultiPolygon(Strict):
    """A GeoJSON MultiPolygon: a grid in several pieces (a river between them)."""

    type: Literal["MultiPolygon"]
    coordinates: list[list[Ring]] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _polygons(cls, polys: list[list[Ring]]) -> list[list[Ring]]:
        for p, rings in enumerate(polys):
            if not rings:
                raise ValueError(f"polygon {p} has no rings")
            for i, r in enumerate(rings):
                _check_ring(r, f"polygon {p} ring {i}")
        return polys

    def rings(self) -> list[Ring]:
        return [r for rings in self.coordinates for r in rings]


Geometry = GeoPolygon | GeoMultiPolygon


def outside_china(lat: float, lon: float) -> bool:
    """GCJ-02 shifts only inside China's bounding box; elsewhere the coordinates stay WGS-84."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _shift_lon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) in WGS-84 → (lat, lon) in GCJ-02; unchanged outside China."""
    if outside_china(lat, lon):
        return lat, lon
    d_lat = _shift_lat(lon - 105.0, lat - 35.0)
    d_lon = _shift_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return lat + d_lat, lon + d_lon


Datum = Literal["wgs84", "gcj02"]


def to_display(lat: float, lon: float, datum: Datum) -> tuple[float, float]:
    """A configured WGS-84 position in the base map's datum."""
    return wgs84_to_gcj02(lat, lon) if datum == "gcj02" else (lat, lon)


def display_rings(geometry: Geometry, datum: Datum) -> list[list[tuple[float, float]]]:
    """The geometry's rings as [lat, lon] lists (the map library's order) in the base map's datum."""
    return [[to_display(lat, lon, datum) for lon, lat in ring] for ring in geometry.rings()]
