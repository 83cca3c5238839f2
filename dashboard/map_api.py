"""The map's geography: grid outlines and device positions the caller may see, already in the base map's
datum (WGS-84, or GCJ-02 shifted here so the page needs no geodesy), and the tile server if one is
configured. Grids with only a plain `polygon` (drawing units, no geography) are sent as they are: the page
draws those on a plain plane without a scale bar."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from alarms.config import GridConfig
from alarms.geo import display_rings, to_display
from dashboard.auth import CurrentPrincipal
from dashboard.map_config import MapSite
from dashboard.services import Services
from ingest.config import ButtonConfig
from video.config import CameraConfig

router = APIRouter(prefix="/api", tags=["map"])


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


class MapGrid(BaseModel):
    id: str
    name: str
    community: str
    street: str
    community_name: str
    street_name: str
    rings: list[list[tuple[float, float]]] | None = Field(
        None, description="geographic outline: rings of [lat, lon] in the base map's datum"
    )
    polygon: list[tuple[float, float]] | None = Field(
        None, description="plain outline in drawing units (grids without geography)"
    )


class MapDevice(BaseModel):
    id: str
    kind: str = Field(description="button | camera")
    name: str
    grid_id: str
    lat: float = Field(description="in the base map's datum")
    lon: float


class MapTiles(BaseModel):
    url: str
    subdomains: list[str]
    attribution: str
    max_zoom: int


class MapData(BaseModel):
    datum: str = Field(description="wgs84 | gcj02: the datum of every position here")
    geographic: bool = Field(description="true when any grid has a geographic outline")
    tiles: MapTiles | None
    grids: list[MapGrid]
    devices: list[MapDevice]


def map_sites(buttons: Iterable[ButtonConfig], cameras: Iterable[CameraConfig]) -> tuple[MapSite, ...]:
    """Buttons and cameras that have a position (for the composition root; config is WGS-84)."""
    out: list[MapSite] = []
    for kind, devices in (("button", buttons), ("camera", cameras)):
        for d in devices:
            loc = d.location
            if loc is None or loc.lat is None or loc.lon is None:
                continue
            name = getattr(d, "name", "") or loc.address or d.id
            out.append(MapSite(d.id, kind, name, d.grid, loc.lat, loc.lon))
    return tuple(out)


def _grid(g: GridConfig, svc: Services) -> dict[str, Any]:
    directory = svc.engine.directory
    return {
        "id": g.id,
        "name": g.name or g.id,
        "community": g.community,
        "street": g.street,
        "community_name": directory.community_names.get(g.community, g.community),
        "street_name": directory.street_names.get(g.street, g.street),
        "rings": display_rings(g.geometry, svc.map.datum) if g.geometry else None,
        "polygon": None if g.geometry or not g.polygon else [list(p) for p in g.polygon],
    }


@router.get("/map", response_model=MapData)
def get_map(svc: Svc, principal: CurrentPrincipal) -> dict[str, Any]:
    directory = svc.engine.directory
    grids = [g for g in directory.grids.values() if principal.scope.allows(g.street, g.id)]
    visible = {g.id for g in grids}
    devices = []
    for site in svc.map_sites:
        if site.grid_id not in visible:
            continue
        lat, lon = to_display(site.lat, site.lon, svc.map.datum)
        devices.append(
            {
                "id": site.id,
                "kind": site.kind,
                "name": site.name,
                "grid_id": site.grid_id,
                "lat": lat,
                "lon": lon,
            }
        )
    tiles = svc.map.tiles
    return {
        "datum": svc.map.datum,
        "geographic": any(g.geometry for g in grids),
        "tiles": tiles.model_dump() if tiles else None,
        "grids": [_grid(g, svc) for g in grids],
        "devices": devices,
    }
