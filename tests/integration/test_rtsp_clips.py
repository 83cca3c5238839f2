"""Evidence clips from a real RTSP camera (GStreamer test server, B-frames, looping): the reader's packets
go into the ring untouched and come out as an MP4 that decodes; a camera that hangs inside the window
gives a clip that holds what exists and says what is missing; an unwritable disk fails the clip only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ingest.camera_spec import CameraSpec
from ingest.manager import CameraManager
from tests.support.h264_packets import probe
from tests.support.rtsp import RtspServer, require_gstreamer, wait_for
from video.clip_config import ClipsConfig
from video.clip_recorder import ClipRecorder, ClipRequest
from video.clip_store import ClipStore

FAST = dict(backoff_initial_s=0.2, backoff_max_s=0.5, open_timeout_s=3.0, stall_s=2.0)


@pytest.fixture
def server(assets: Path) -> Iterator[RtspServer]:
    require_gstreamer()
    srv = RtspServer({"cross": assets / "video" / "crosswalk_pedestrians.mp4"}).start()
    yield srv
    if srv.running:
        srv.resume()
    srv.stop()


def _run(
    server: RtspServer, root: Path, hang: bool = False
) -> tuple[list[tuple[int, dict[str, Any]]], float]:
    attached: list[tuple[int, dict[str, Any]]] = []
    rec = ClipRecorder(
        ClipsConfig(), ClipStore(root), CollectorRegistry(), attach=lambda i, e: attached.append((i, e))
    )
    spec = CameraSpec(id="CAM-R", url=server.url("cross"), **FAST)  # type: ignore[arg-type]
    manager = CameraManager([spec], packet_tap=rec.tap)
    rec.start()
    manager.start()
    try:
        ring = rec.rings["CAM-R"]
        assert wait_for(lambda: ring.oldest() is not None and time.time() - ring.oldest() > 6, 20)
        at = time.time()
        rec.request(ClipRequest(1, "sos", "CAM-R", at, 5.0, 4.0))
        if hang:
            time.sleep(1.0)
            server.pause()  # hung camera: the reader stalls, then reconnects after resume
            time.sleep(3.5)
            server.resume()
        assert wait_for(lambda: bool(attached), 25)
    finally:
        manager.stop()
        rec.stop()
    return attached, at


def test_rtsp_packets_become_a_playable_clip(server: RtspServer, tmp_path: Path) -> None:
    [(incident, entry)], at = _run(server, tmp_path)
    assert incident == 1 and entry["status"] == "saved", entry
    path = ClipStore(tmp_path).resolve(entry["id"])
    assert path is not None
    frames, duration, bframes = probe(path)
    assert at - 5 - 3 <= entry["start"] <= at - 5 + 0.5 and entry["end"] >= at + 3.5
    assert abs(duration - (entry["end"] - entry["start"])) < 0.6 and frames > duration * 20 and bframes
    assert (entry["width"], entry["height"]) == (640, 360)


def test_camera_that_hangs_inside_the_window(server: RtspServer, tmp_path: Path) -> None:
    [(_, entry)], _ = _run(server, tmp_path, hang=True)
    assert entry["status"] == "saved"
    reasons = {m["reason"] for m in entry["missing"]}
    assert reasons & {"stalled", "timed out", "no_video"}, entry["missing"]


def test_unwritable_storage_fails_only_the_clip(server: RtspServer, tmp_path: Path) -> None:
    blocker = tmp_path / "clips"
    blocker.write_text("not a folder")
    [(_, entry)], _ = _run(server, blocker)
    assert entry["status"] == "failed" and entry["error"]
