"""What the HTTP layer is handed by the composition root: it owns none of these."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from alarms.delivery import DeliveryWorker
from alarms.engine import IncidentEngine
from alarms.store import Store
from dashboard.auth import TokenBook
from dashboard.config import AuthConfig
from dashboard.live import LiveHub


class VideoView(Protocol):
    """What the API reads from the video path (implemented by the composition root)."""

    def status(self) -> list[dict[str, Any]]: ...

    def camera_scope(self, camera_id: str) -> tuple[str, str] | None: ...

    def snapshot_path(self, camera_id: str, filename: str) -> Path | None: ...


@dataclass(slots=True)
class Services:
    store: Store
    engine: IncidentEngine
    delivery: DeliveryWorker
    hub: LiveHub
    tokens: TokenBook
    registry: CollectorRegistry
    readiness: Callable[[], dict[str, bool]] = field(default=lambda: {})
    clock: Callable[[], float] = time.time
    video: VideoView | None = None
    auth: AuthConfig = field(default_factory=AuthConfig)  # session cookie and lockout settings


class Runtime(Protocol):
    services: Services

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
