"""File sources (demos, tests): paced at the file's frame rate, looping, decoded by either backend."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from ingest.camera_spec import CameraSpec
from ingest.manager import CameraManager
from ingest.types import Frame, StreamState
from tests.support.rtsp import short_clip, wait_for


def _online(manager: CameraManager, camera_id: str, timeout: float = 10.0) -> None:
    ok = wait_for(lambda: manager.health()[0].state is StreamState.ONLINE, timeout)
    assert ok, f"{camera_id} not online: {manager.health()}"


def _rate(manager: CameraManager, seconds: float) -> float:
    start = manager.health()[0].frames
    time.sleep(seconds)
    return (manager.health()[0].frames - start) / seconds


@pytest.mark.parametrize(
    ("clip", "fps", "shape", "decoder"),
    [
        ("market_street_1906_pd.mp4", 29.97, (360, 640, 3), "auto"),
        ("crosswalk_pedestrians.mp4", 23.98, (360, 640, 3), "pyav"),
        ("fire_room_getty.mp4", 23.98, (432, 768, 3), "opencv"),
    ],
)
def test_file_source_is_paced_at_its_frame_rate(
    assets: Path, clip: str, fps: float, shape: tuple, decoder: str
) -> None:
    frames: list[Frame] = []
    spec = CameraSpec("CAM-F", str(assets / "video" / clip), decoder=decoder)  # type: ignore[arg-type]
    with CameraManager([spec]) as manager:
        manager.subscribe(frames.append)
        _online(manager, "CAM-F")
        measured = _rate(manager, 2.0)
    assert measured == pytest.approx(fps, rel=0.12)
    assert frames[-1].image.shape == shape and frames[-1].image.dtype.name == "uint8"
    seqs = [f.seq for f in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(
        b.mono_ns > a.mono_ns and b.captured_at >= a.captured_at for a, b in itertools.pairwise(frames)
    )
    assert abs(time.time() - frames[-1].captured_at) < 2.0


def test_file_source_loops_without_a_reconnect(assets: Path, tmp_path: Path) -> None:
    clip = short_clip(
        assets / "video" / "fire_aerial_wildfire.mp4", tmp_path / "three_s.mp4", 3.0
    )  # 90 frames
    frames: list[Frame] = []
    states: list[StreamState] = []
    spec = CameraSpec("CAM-L", f"file://{clip}")
    with CameraManager([spec], on_state_change=lambda h: states.append(h.state)) as manager:
        manager.subscribe(frames.append)
        _online(manager, "CAM-L")
        time.sleep(4.5)
        health = manager.health()[0]
    assert len(frames) >= 120, "a 90-frame clip at 30 fps must have looped within 4.5 s"
    assert health.state is StreamState.ONLINE and health.reconnects == 0 and health.error is None
    assert StreamState.RECONNECTING not in states and StreamState.OFFLINE not in states
    seqs = [f.seq for f in frames]
    assert seqs == sorted(set(seqs))
    gaps = [(b.mono_ns - a.mono_ns) / 1e9 for a, b in itertools.pairwise(frames)]
    assert max(gaps) < 0.25, "the loop restarts the file seamlessly"


@pytest.mark.parametrize("decoder", ["pyav", "opencv"])
def test_unpaced_file_decodes_faster_than_real_time(assets: Path, decoder: str) -> None:
    spec = CameraSpec(
        "CAM-U", str(assets / "video" / "fire_aerial_wildfire.mp4"), pace=False, decoder=decoder
    )  # type: ignore[arg-type]
    with CameraManager([spec]) as manager:
        _online(manager, "CAM-U")
        measured = _rate(manager, 1.0)
    assert measured > 60
