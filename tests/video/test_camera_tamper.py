"""Camera tampering through the real pipeline and engine: frames go in where the camera reader hands them
over (`_on_frame`), the alarm thread's handling runs in the test's thread, the clock is the frames' own."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from alarms.storage.schema import timeline
from ingest.types import Frame
from sharpeyes.evaluation.tamper_effects import Effect, EffectRenderer
from tests.detectors.test_tamper import scene
from tests.support.pipeline import incident_engine, incident_rows, video_pipeline
from video.config import CameraConfig
from video.pipeline import VideoPipeline

FPS = 10.0


def _feed(
    video: VideoPipeline, seconds: float, picture: Callable[[np.ndarray, float], np.ndarray], t0: float
) -> None:
    """``seconds`` of 10 fps frames of the generated scene through ``picture``, each handled at once."""
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = Frame("C", i, t0 + t, int((t0 + t) * 1e9), picture(scene(i), t))
        video._on_frame(frame)
        while not video._queue.empty():
            video._handle(video._queue.get_nowait())


def _pipeline(tmp_path: Path, **camera: Any) -> tuple[VideoPipeline, Any]:
    engine, directory = incident_engine(tmp_path / "se.db")
    cam = CameraConfig.model_validate({"id": "C", "url": "/a.mp4", "grid": "G-001", **camera})
    return video_pipeline([cam], engine, directory, tmp_path / "snaps"), engine


def _covered(img: np.ndarray, t: float) -> np.ndarray:
    return EffectRenderer(Effect(kind="cover", start_s=0.0)).apply(img, 1.0)


def test_a_covered_camera_opens_camera_tamper_after_the_dwell_and_closes_when_uncovered(
    tmp_path: Path,
) -> None:
    video, engine = _pipeline(tmp_path)  # no rules: the tamper checks run on every enabled camera
    t0 = time.time() - 100
    _feed(video, 10, lambda img, t: img, t0)  # learn the scene
    _feed(video, 6, _covered, t0 + 10)
    assert incident_rows(engine) == []  # 6 s < the 8 s dwell: a bus or a passer-by would be over by now
    _feed(video, 4, _covered, t0 + 16)
    [row] = incident_rows(engine)
    assert (row["category"], row["source_id"], row["state"]) == ("camera_tamper", "C", "reported")
    evidence = row["evidence"]
    assert evidence["kind"] == "cover" and "cover" in evidence["kinds"]
    assert evidence["measures"]["texture_ratio"] < 0.35
    for key in ("snapshot_before", "snapshot_after"):  # the reference scene and the covered picture
        assert (tmp_path / "snaps" / evidence[key]).stat().st_size > 1000
    assert evidence["snapshot"] == evidence["snapshot_after"]
    _feed(video, 10, lambda img, t: img, t0 + 20)  # uncovered: closed once clear for clear_s
    [row] = incident_rows(engine)
    assert row["state"] == "closed"
    with engine.store.read() as conn:
        actions = [r.action for r in conn.execute(select(timeline).order_by(timeline.c.id))]
    assert actions == ["created", "auto_close"]


LOOK_ALIKES = {
    "bus_3s": Effect(kind="bus", start_s=12.0),
    "headlights": Effect(kind="headlights", start_s=11.0),
    "passer_by": Effect(kind="passer_by", start_s=11.0),
    "exposure_ramp": Effect(kind="exposure_ramp", start_s=11.0),
    "rain": Effect(kind="rain", start_s=11.0),
}


def test_look_alikes_open_nothing(tmp_path: Path) -> None:
    t0 = time.time() - 100
    for name, effect in LOOK_ALIKES.items():
        video, engine = _pipeline(tmp_path / name, rules=[{"kind": "fire"}])
        renderer = EffectRenderer(effect)
        _feed(video, 30, renderer.apply, t0)
        assert incident_rows(engine) == [], name


def test_tamper_can_be_turned_off_per_camera(tmp_path: Path) -> None:
    video, engine = _pipeline(tmp_path, tamper={"enabled": False})
    t0 = time.time() - 100
    _feed(video, 4, lambda img, t: img, t0)
    _feed(video, 12, _covered, t0 + 4)
    assert incident_rows(engine) == []
