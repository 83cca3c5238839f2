"""Types that leave the ingest layer: frames, stream health and panic signals."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class SignalKind(StrEnum):
    """What a one-key alarm button can say."""

    PRESS = "press"
    CANCEL = "cancel"
    HEARTBEAT = "heartbeat"
    TAMPER = "tamper"
    LOW_BATTERY = "low_battery"


@dataclass(frozen=True, slots=True)
class PanicSignal:
    """One button event, as received. `received_at` is our wall clock, `device_ts` the button's."""

    button_id: str
    kind: SignalKind
    device_ts: float
    received_at: float
    seq: int
    boot: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """Deterministic id: a QoS 1 redelivery or a repeated seq maps to the same id."""
        return f"btn:{self.button_id}:{self.boot}:{self.seq}"


class StreamState(StrEnum):
    STARTING = "starting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded image. `captured_at` is wall time at decode and travels with every later stage."""

    camera_id: str
    seq: int
    captured_at: float
    mono_ns: int
    image: np.ndarray


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """One camera stream's health. Every string here is credential-free (``url`` is redacted).

    ``fps`` is the decoded rate, ``fps_out`` the rate handed to consumers; ``error`` is the current failure
    (``None`` while online), ``last_error`` the most recent one; ``stream`` is "main" or "detect".
    """

    camera_id: str
    state: StreamState
    fps: float
    last_frame_age: float | None
    reconnects: int
    error: str | None = None
    fps_out: float = 0.0
    frames: int = 0
    dropped: int = 0
    decode_errors: int = 0
    last_error: str | None = None
    url: str = ""
    stream: str = "main"
