"""Where a device sits in the grid hierarchy: grid → community → street → district, and the place people
are sent to: the address and landmark of a button, the name and location of a camera, and the names
(not ids) of its grid, community and street."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alarms.config import AreaName, GridConfig


@dataclass(frozen=True, slots=True)
class Placement:
    grid_id: str
    community_id: str
    street_id: str
    cameras: tuple[str, ...] = ()
    location: dict[str, object] = field(default_factory=dict)
    # The incident's `place` (contracts.IncidentPlace), built once from config when the device is placed,
    # so a press copies it instead of looking names up on the SOS path.
    place: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class GridDirectory:
    """Built once from config; answers which grid, community and street a button or camera belongs to,
    and what each is called."""

    grids: dict[str, GridConfig] = field(default_factory=dict)
    devices: dict[str, Placement] = field(default_factory=dict)
    community_names: dict[str, str] = field(default_factory=dict)
    street_names: dict[str, str] = field(default_factory=dict)
    camera_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        grids: list[GridConfig],
        communities: Iterable[AreaName] = (),
        streets: Iterable[AreaName] = (),
        camera_names: Mapping[str, str] | None = None,
    ) -> GridDirectory:
        return cls(
            grids={g.id: g for g in grids},
            community_names={c.id: c.name for c in communities},
            street_names={s.id: s.name for s in streets},
            camera_names={k: v for k, v in (camera_names or {}).items() if v},
        )

    def names(self, grid_id: str) -> dict[str, str]:
        """The grid's, its community's and its street's names; an unnamed one is called by its id."""
        grid = self.grids[grid_id]
        return {
            "grid_name": grid.name or grid.id,
            "community_name": self.community_names.get(grid.community, grid.community),
            "street_name": self.street_names.get(grid.street, grid.street),
        }

    def place_of(
        self,
        grid_id: str,
        location: Mapping[str, object] | None = None,
        cameras: Iterable[str] = (),
        source_name: str | None = None,
    ) -> dict[str, Any]:
        """Where to go, as the incident carries it: address, landmark and coordinates of the source (when
        configured), the names of its grid, community and street, the source's own name (a camera's) and
        the linked cameras by name."""
        loc = location or {}
        return {
            "address": loc.get("address"),
            "landmark": loc.get("landmark"),
            "lat": loc.get("lat"),
            "lon": loc.get("lon"),
            **self.names(grid_id),
            "source_name": source_name or None,
            "cameras": [{"id": c, "name": self.camera_names.get(c, c)} for c in cameras],
        }

    def place(
        self,
        device_id: str,
        grid_id: str,
        cameras: tuple[str, ...] = (),
        location: dict[str, object] | None = None,
    ) -> None:
        grid = self.grids[grid_id]
        loc = location or {}
        place = self.place_of(grid_id, loc, cameras)
        self.devices[device_id] = Placement(grid.id, grid.community, grid.street, cameras, loc, place)

    def camera_placement(
        self, camera_id: str, grid_id: str, name: str = "", location: dict[str, object] | None = None
    ) -> Placement:
        """A camera's placement: its own name and location are the incident's place."""
        grid = self.grids[grid_id]
        loc = location or {}
        place = self.place_of(grid_id, loc, (camera_id,), name or self.camera_names.get(camera_id))
        return Placement(grid.id, grid.community, grid.street, (camera_id,), loc, place)

    def placement(self, device_id: str) -> Placement | None:
        return self.devices.get(device_id)

    def grid_placement(self, grid_id: str) -> Placement:
        grid = self.grids[grid_id]
        return Placement(grid.id, grid.community, grid.street, place=self.place_of(grid_id))

    def knows(self, device_id: str) -> bool:
        return device_id in self.devices
