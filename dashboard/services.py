"""What the HTTP layer is handed by the composition root: it owns none of these."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from alarms.delivery.port import OutboxDelivery
from alarms.engine import IncidentEngine
from alarms.field_config import FieldConfig
from alarms.locale import DEFAULT_TIMEZONE
from alarms.storage.store import Store
from dashboard.auth import TokenBook
from dashboard.config import AuthConfig, LiveVideoConfig
from dashboard.incident_push import PushHub
from dashboard.map_config import MapConfig, MapSite
from dashboard.viewers import ViewerRegistry
from dashboard.webrtc import WebRtcHub
from ingest.types import Frame
from video.clip_recorder import ClipRecorder
from video.clip_store import ClipStore
from video.evidence_store import EvidenceStorage, FolderStorage
from video.snapshots import SnapshotStore
from video.status import CameraStatus


class VideoView(Protocol):
    """What the API reads from the video path (implemented by the composition root)."""

    def status(self) -> list[CameraStatus]: ...

    def camera_scope(self, camera_id: str) -> tuple[str, str] | None: ...

    def latest_frame(self, camera_id: str, newer_than: int, timeout: float) -> Frame | None:
        """The live-view stream's newest decoded frame (blocking up to ``timeout`` for a newer one)."""
        ...

    def latest_detections(self, camera_id: str) -> dict[str, Any] | None:
        """The newest detector result as ``{frame_size, captured_at, boxes: [{xyxy, label, score}]}``."""
        ...


@dataclass(slots=True)
class Services:
    store: Store
    engine: IncidentEngine
    delivery: OutboxDelivery  # DeliveryWorker in process, QueuedDelivery with `delivery.via: queue`
    hub: PushHub
    tokens: TokenBook
    registry: CollectorRegistry
    readiness: Callable[[], dict[str, bool]] = field(default=dict)
    clock: Callable[[], float] = time.time
    video: VideoView | None = None
    clips: ClipRecorder | None = None  # evidence clips of this process's cameras (dashboard/clip_api.py)
    # Evidence storage (`storage.evidence`: folders or S3) and its areas for the API; a process without a
    # recorder of its own (the API role) serves the clips the others wrote from `clip_store`.
    evidence: EvidenceStorage = field(default_factory=FolderStorage)
    snapshots: SnapshotStore | None = None
    clip_store: ClipStore | None = None
    clip_link_key: bytes | None = None  # signs clip links where no recorder does (`clips.link_secret_env`)
    auth: AuthConfig = field(default_factory=AuthConfig)  # session cookie and lockout settings
    live_video: WebRtcHub | None = None  # WebRTC live view (None without cameras)
    live_config: LiveVideoConfig = field(default_factory=LiveVideoConfig)
    timezone: str = DEFAULT_TIMEZONE  # locale.timezone: the page's clock and the KPIs' "today"
    map: MapConfig = field(default_factory=MapConfig)
    map_sites: tuple[MapSite, ...] = ()  # buttons and cameras with a position, for the map
    viewers: ViewerRegistry = field(default_factory=ViewerRegistry)  # who has which incident open
    field: FieldConfig = field(default_factory=FieldConfig)  # the field loop (dashboard/field_api.py)
    photos_dir: str = "var/field-photos"  # field workers' photos, beside the snapshots
    share_presence: Callable[[dict[str, Any]], None] | None = None  # `--role api`: beats to the other APIs


class Runtime(Protocol):
    services: Services

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
