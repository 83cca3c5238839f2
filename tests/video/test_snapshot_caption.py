"""The time written on an evidence picture is wall time in the configured zone with its offset, not the
server's own zone (issue 14, item 8: "today UTC on the picture, Beijing time on the page")."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import video.evidence as evidence


def test_caption_carries_beijing_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def annotate(image: np.ndarray, detections: object, **kw: Any) -> np.ndarray:
        seen.update(kw)
        return image

    monkeypatch.setattr(evidence, "annotate", annotate)
    monkeypatch.setattr(evidence, "encode_jpeg", lambda image, quality: b"jpeg")
    monkeypatch.setenv("TZ", "UTC")  # the server's own zone must not matter
    captured = datetime(2024, 5, 1, 8, 30, 15, tzinfo=UTC).timestamp()
    frame = SimpleNamespace(image=np.zeros((4, 4, 3), np.uint8), captured_at=captured)
    result = SimpleNamespace(frame=frame, detections=object())
    cam = SimpleNamespace(zones=[], ignore=SimpleNamespace(polygons=[]))
    video = SimpleNamespace(snapshot_max_width=None, snapshot_quality=80)
    jpeg, at = evidence.snapshot_jpeg(result, None, cam, "CAM-01 fire confirmed", video, "Asia/Shanghai")  # type: ignore[arg-type]
    assert (jpeg, at) == (b"jpeg", captured)
    assert seen["caption"] == "CAM-01 fire confirmed 2024-05-01 16:30:15 +08:00"
