"""Where a device sits in the grid hierarchy: grid → community → street → district."""

from __future__ import annotations

from dataclasses import dataclass, field

from alarms.config import GridConfig


@dataclass(frozen=True, slots=True)
class Placement:
    grid_id: str
    community_id: str
    street_id: str
    cameras: tuple[str, ...] = ()
    location: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class GridDirectory:
    """Built once from config; answers which grid, community and street a button or camera belongs to."""

    grids: dict[str, GridConfig] = field(default_factory=dict)
    devices: dict[str, Placement] = field(default_factory=dict)

    @classmethod
    def build(cls, grids: list[GridConfig]) -> GridDirectory:
        return cls(grids={g.id: g for g in grids})

    def place(
        self,
        device_id: str,
        grid_id: str,
        cameras: tuple[str, ...] = (),
        location: dict[str, object] | None = None,
    ) -> None:
        grid = self.grids[grid_id]
        self.devices[device_id] = Placement(grid.id, grid.community, grid.street, cameras, location or {})

    def placement(self, device_id: str) -> Placement | None:
        return self.devices.get(device_id)

    def grid_placement(self, grid_id: str) -> Placement:
        grid = self.grids[grid_id]
        return Placement(grid.id, grid.community, grid.street)

    def knows(self, device_id: str) -> bool:
        return device_id in self.devices
