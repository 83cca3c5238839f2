"""Config owned by the alarm layer: grids, SLAs, storage and webhook endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alarms.evidence_config import EvidenceStorageConfig
from alarms.geo import Geometry
from ingest.config import Strict

EVENT_TYPES = (
    "incident.created",
    "incident.updated",
    "incident.escalated",
    "incident.closed",
    "incident.merged",
)


class Contact(Strict):
    name: str
    phone: str | None = None
    role: str | None = None


class GridConfig(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    community: str
    street: str
    polygon: list[tuple[float, float]] | None = Field(
        None, description="map outline in plain drawing units, [x, y] pairs (a sketch, no geography)"
    )
    geometry: Geometry | None = Field(
        None,
        discriminator="type",
        description="map outline: GeoJSON Polygon or MultiPolygon, [lon, lat] in WGS-84 (wins over polygon)",
    )
    contacts: list[Contact] = Field(default_factory=list)

    @model_validator(mode="after")
    def _polygon_has_area(self) -> GridConfig:
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError("polygon needs at least 3 points")
        return self


class AreaName(Strict):
    """A community or street as people call it: pages, webhooks and pictures show the name, not the id."""

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)


class Deadline(Strict):
    acknowledge_s: float = Field(gt=0)
    close_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ack_before_close(self) -> Deadline:
        if self.acknowledge_s > self.close_s:
            raise ValueError("acknowledge_s must not exceed close_s")
        return self


DEFAULT_SLA: dict[str, Deadline] = {
    "sos": Deadline(acknowledge_s=60, close_s=1800),
    "fire": Deadline(acknowledge_s=60, close_s=3600),
    "smoke": Deadline(acknowledge_s=120, close_s=3600),
    "crowd": Deadline(acknowledge_s=180, close_s=7200),
    "tamper": Deadline(acknowledge_s=600, close_s=86400),
    "dispatch_failure": Deadline(acknowledge_s=60, close_s=3600),
}


class SlaConfig(Strict):
    default: Deadline = Deadline(acknowledge_s=900, close_s=86400)
    categories: dict[str, Deadline] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    escalate_every_s: float | None = Field(
        None, gt=0, description="time between escalation steps once overdue; default: the acknowledge time"
    )

    def for_category(self, category: str) -> Deadline:
        return self.categories.get(category) or DEFAULT_SLA.get(category) or self.default


class RetryConfig(Strict):
    profile: Literal["auto", "life_safety", "standard"] = Field(
        "auto", description="auto: life_safety for life-safety categories, standard otherwise"
    )
    max_attempts: int | None = Field(None, ge=1, le=1000)
    delays_s: list[float] | None = Field(None, min_length=1, description="custom backoff schedule in seconds")
    probe_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="while the endpoint is down, one waiting delivery is tried this often (not counted as an "
        "attempt); the first success sends everything waiting at once",
    )


class WebhookConfig(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(description="environment variable holding the signing secret (whsec_… or raw)")
    events: list[str] = Field(default_factory=lambda: list(EVENT_TYPES))
    categories: list[str] | None = Field(None, description="only these incident categories (default: all)")
    min_level: Literal["suspected", "confirmed"] = Field(
        "confirmed",
        description="confirmed: an incident opened on suspicion (camera fire/smoke, certainty Likely) is "
        "sent once a rule confirms it, as incident.created; suspected: from its first sighting",
    )
    retry: RetryConfig = RetryConfig()
    timeout_s: float = Field(5.0, gt=0, le=120)

    @model_validator(mode="after")
    def _known_events(self) -> WebhookConfig:
        unknown = sorted(set(self.events) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
        return self


class StorageConfig(Strict):
    url: str = "sqlite:///var/sharpeyes.db"
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full",
        description="full: every commit is on disk before a press is acknowledged to the broker (survives "
        "a power cut or OS crash); normal: survives a process crash only, the last ~0.2 s may be lost to a "
        "power cut, for a little less latency",
    )
    dedup_window_s: float = Field(86400.0, gt=0, description="how long event ids are remembered")
    snapshots_dir: str | None = Field(
        None, description="evidence JPEGs; default: `snapshots/` next to the SQLite file (else var/snapshots)"
    )
    evidence: EvidenceStorageConfig = Field(
        EvidenceStorageConfig(), description="where snapshots, clips and field photos are kept: folder or s3"
    )

    def snapshots_path(self) -> str:
        """Where evidence snapshots go: beside the database, so one backup holds both."""
        if self.snapshots_dir:
            return self.snapshots_dir
        prefix = "sqlite:///"
        if self.url.startswith(prefix) and self.url != "sqlite:///:memory:":
            db = self.url[len(prefix) :].split("?", 1)[0]
            parent = db.rsplit("/", 1)[0] if "/" in db else "."
            return f"{parent or '/'}/snapshots"
        return "var/snapshots"
