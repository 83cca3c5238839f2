"""Config for the grid map: which datum the base map is drawn in and, optionally, the district's own tile
server. Without a tile server the map draws the grid outlines on a plain background (nothing is fetched
from outside the service); with one, the page's Content-Security-Policy admits that origin for images."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from alarms.geo import Datum
from ingest.config import Strict


class TileConfig(Strict):
    url: str = Field(
        description="XYZ tile template, e.g. https://tiles.district.example/{z}/{x}/{y}.png ({s}: subdomains)"
    )
    subdomains: list[str] = Field(default_factory=list, description="values for {s} in the url")
    attribution: str = Field("", max_length=300, description="shown in the map's corner (plain text)")
    max_zoom: int = Field(18, ge=1, le=22)

    @field_validator("url")
    @classmethod
    def _template(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("tile url must be an http(s) URL of the tile server")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
        if missing:
            example = "/{z}/{x}/{y}.png"
            raise ValueError(f"tile url lacks {', '.join(missing)} (an XYZ template such as {example})")
        return url

    @model_validator(mode="after")
    def _subdomains_used(self) -> TileConfig:
        if ("{s}" in self.url) != bool(self.subdomains):
            raise ValueError("{s} in the tile url and subdomains go together")
        return self

    def origins(self) -> list[str]:
        """The origins the page loads tiles from (for img-src)."""
        urls = [self.url.replace("{s}", s) for s in self.subdomains] or [self.url]
        return sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls})


class MapConfig(Strict):
    datum: Datum = Field(
        "wgs84",
        description="the base map's datum: wgs84, or gcj02 for Chinese base maps (configured positions are "
        "always WGS-84 and are shifted for display)",
    )
    tiles: TileConfig | None = Field(None, description="the district's tile server (default: none)")


@dataclass(frozen=True, slots=True)
class MapSite:
    """A device with a position, as the map shows it (built by the composition root from config)."""

    id: str
    kind: str  # button | camera
    name: str
    grid_id: str
    lat: float
    lon: float
