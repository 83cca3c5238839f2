"""The video pipeline in process with real parts (file cameras from the shared clips, the real engine on
SQLite, the real detectors): incidents with snapshots, a broken model or source kept to itself, clean
shutdown; and its small pieces (rate limit, snapshot store, drawing, ignore masks)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from alarms.grids import Placement
from detectors.annotate import annotate, encode_jpeg
from detectors.types import DetectionResult, Detections
from ingest import errors
from ingest.types import Frame
from tests.support.pipeline import incident_engine, incident_rows, video_pipeline
from tests.support.rtsp import wait_for
from video.camera_state import CameraState
from video.config import CameraConfig, VideoConfig
from video.rule_group import RuleGroup
from video.snapshots import SnapshotStore

PIPELINE_THREADS = ("cam-", "batcher-", "video-alarms")


@pytest.mark.parametrize("workers", [1, 2])
def test_file_cameras_to_incidents_with_broken_parts_isolated(
    tmp_path: Path, assets: Path, workers: int
) -> None:
    """`video.batcher.workers`: 2 runs two model instances per detector; the outcome is the same."""
    engine, directory = incident_engine(tmp_path / "se.db")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video\xff" * 5000)
    cameras = [
        CameraConfig(
            id="ROOM",
            url=f"file://{assets}/video/fire_room_getty.mp4",
            grid="G-001",
            rules=[{"kind": "fire"}],  # type: ignore[list-item]
            ignore={"polygons": [[[0, 0], [5, 0], [5, 5]]]},  # type: ignore[arg-type]
        ),
        CameraConfig(
            id="MARKET",
            url=str(assets / "video" / "market_street_1906_pd.mp4"),
            grid="G-001",
            detector="broken",
            rules=[{"kind": "crowd", "threshold": 1}],  # type: ignore[list-item]
        ),
        CameraConfig(id="JUNK", url=f"file://{garbage}", grid="G-001", rules=[{"kind": "fire"}]),  # type: ignore[list-item]
        CameraConfig(id="OFF", url="/nowhere.mp4", grid="G-001", enabled=False),
    ]
    declared = {"broken": {"kind": "onnx", "model": str(tmp_path / "missing.onnx")}}
    from sharpeyes.settings import Settings

    parsed = Settings.model_validate({"detectors": declared}).detectors
    registry = CollectorRegistry()
    video = video_pipeline(
        cameras,
        engine,
        directory,
        tmp_path / "snaps",
        declared=parsed,
        video=VideoConfig(batcher={"workers": workers}),  # type: ignore[arg-type]
        registry=registry,
    )
    video.start()
    try:
        batchers = [t.name for t in threading.enumerate() if t.name.startswith("batcher-")]
        assert len(batchers) == workers, batchers  # the broken detector has none
        assert wait_for(lambda: any(r["category"] == "fire" for r in incident_rows(engine)), 15, 0.1)
        assert wait_for(lambda: video.status()[2].last_error is not None, 5)  # JUNK
        status = {c.id: c.model_dump() for c in video.status()}
    finally:
        started = time.monotonic()
        video.stop()
        stop_s = time.monotonic() - started
    assert stop_s < 5
    left = [t.name for t in threading.enumerate() if t.name.startswith(PIPELINE_THREADS)]
    assert left == [], f"threads left running: {left}"

    [fire] = [r for r in incident_rows(engine) if r["category"] == "fire"]
    assert (fire["source_kind"], fire["source_id"], fire["grid_id"]) == ("camera", "ROOM", "G-001")
    name = fire["evidence"]["snapshot"]
    jpeg = SnapshotStore(tmp_path / "snaps").resolve(*name.split("/"))
    assert jpeg is not None and jpeg.read_bytes()[:2] == b"\xff\xd8"
    assert status["MARKET"]["state"] == "online", "a camera whose detector failed still streams"
    assert status["MARKET"]["detectors"]["broken"]["running"] is False
    assert "missing.onnx" in status["MARKET"]["detectors"]["broken"]["error"]
    assert status["JUNK"]["last_error"].startswith(errors.NOT_VIDEO)
    assert status["OFF"]["state"] == "disabled" and video.camera_scope("OFF") == ("S-1", "G-001")
    assert registry.get_sample_value("sharpeyes_video_errors_total", {"stage": "detector_load"}) == 1


def _state(detect_fps: float) -> CameraState:
    cam = CameraConfig(id="C", url="/a.mp4", grid="G-001", detect_fps=detect_fps)
    from detectors.motion import MotionGate

    return CameraState(cam, Placement("G-001", "C-1", "S-1"), MotionGate(), period_ns=int(1e9 / detect_fps))


def test_rate_limit_keeps_detect_fps_without_drift() -> None:
    state = _state(5.0)
    frames_30fps = [round(i * 1e9 / 30) + 10**12 for i in range(300)]  # 10 s of a 30 fps camera
    passed = sum(state.due(t) for t in frames_30fps)
    assert 49 <= passed <= 51
    state = _state(5.0)
    assert state.due(10**12) and not state.due(10**12 + 10**8) and state.due(10**12 + 2 * 10**8)
    assert state.due(10**12 + 50 * 10**9), "after a gap the schedule restarts instead of bursting"
    assert not state.due(10**12 + 50 * 10**9 + 10**8)


def test_snapshot_store_names_and_refuses_other_paths(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snaps")
    (tmp_path / "secret.jpg").write_bytes(b"x")
    a = store.save("CAM-1", 1_790_000_000.25, "fire", "suspected", b"\xff\xd8one")
    b = store.save("CAM-1", 1_790_000_000.25, "fire", "suspected", b"\xff\xd8two")
    assert a == "CAM-1/20260921T141320250-fire-suspected.jpg" and b.endswith("-suspected-2.jpg")
    assert store.resolve(*b.split("/")).read_bytes() == b"\xff\xd8two"  # type: ignore[union-attr]
    for camera, filename in (("..", "secret.jpg"), ("CAM-1", "../../secret.jpg"), ("CAM-1", "x.jpg")):
        assert store.resolve(camera, filename) is None
    with pytest.raises(ValueError):
        store.save("../x", 0, "fire", "confirmed", b"")
    assert not list((tmp_path / "snaps" / "CAM-1").glob(".*"))  # no temp files left


def test_annotate_draws_boxes_zones_and_downscales() -> None:
    image = np.zeros((720, 2560, 3), np.uint8)
    dets = Detections(
        np.array([[100, 100, 400, 400]], np.float32), np.array([0.9], np.float32), np.array([0]), ("fire",)
    )
    out = annotate(image, dets, zones=[("door", [[1000, 100], [2000, 100], [2000, 600]])], max_width=1280)
    assert out.shape == (360, 1280, 3) and image.max() == 0  # a copy, scaled
    assert tuple(out[120, 50:200].max(axis=0)) == (0, 64, 255)  # the fire box edge at half scale (y=50)
    assert out[:, :, 1].max() > 200  # the zone's yellow
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(out), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == out.shape


def test_rule_group_drops_ignored_boxes_before_the_rules() -> None:
    cam = CameraConfig(
        id="C",
        url="/a.mp4",
        grid="G-001",
        rules=[{"kind": "crowd", "threshold": 2, "dwell_s": 0}],  # type: ignore[list-item]
        ignore={"polygons": [[[0, 0], [100, 0], [100, 100], [0, 100]]]},  # type: ignore[arg-type]
    )
    group = RuleGroup(cam, Placement("G-001", "C-1", "S-1"), "people", list(cam.rules))
    frame = Frame("C", 1, 1000.0, 0, np.zeros((200, 200, 3), np.uint8))
    boxes = np.array([[10, 10, 20, 20], [150, 150, 160, 160], [120, 120, 130, 130]], np.float32)
    dets = Detections(boxes, np.full(3, 0.9, np.float32), np.zeros(3, np.int64), ("person",))
    seen, obs = group.feed(DetectionResult(frame, dets, "people", 1.0))
    assert len(seen.detections) == 2
    assert [(o.kind, o.level.value, o.count) for o in obs] == [("crowd", "confirmed", 2.0)]


def _low_res_copy(src: Path, dst: Path, size: tuple[int, int], seconds: float) -> Path:
    """A camera's sub-stream: the same scene at a lower resolution (re-encoded, a few seconds)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("mpeg4", rate=vin.average_rate)
        vout.width, vout.height = size
        vout.pix_fmt = "yuv420p"
        for i, f in enumerate(inp.decode(vin)):
            if f.time is not None and f.time >= seconds:
                break
            small = f.reformat(width=size[0], height=size[1], format="yuv420p")
            small.pts, small.time_base = i, 1 / vin.average_rate
            out.mux(vout.encode(small))
        out.mux(vout.encode(None))
    return dst


def test_snapshot_of_a_camera_with_a_detect_stream_is_drawn_on_the_main_stream(
    tmp_path: Path, assets: Path
) -> None:
    """Detection runs on the 384×216 sub-stream; the evidence picture is the 768×432 main stream (decoded
    in full here: a keyframe-only main stream is seconds apart from the analysed frame, see below)."""
    engine, directory = incident_engine(tmp_path / "se.db")
    main = assets / "video" / "fire_room_getty.mp4"  # 768×432
    sub = _low_res_copy(main, tmp_path / "sub.mp4", (384, 216), 6.0)
    cam = CameraConfig(
        id="ROOM",
        url=str(main),
        detect_url=str(sub),
        main_keyframes_only=False,
        grid="G-001",
        rules=[{"kind": "fire"}],  # type: ignore[list-item]
    )
    video = video_pipeline(
        [cam],
        engine,
        directory,
        tmp_path / "snaps",
    )
    video.start()
    try:
        assert wait_for(lambda: any(r["category"] == "fire" for r in incident_rows(engine)), 15, 0.1)
    finally:
        video.stop()
    [fire] = [r for r in incident_rows(engine) if r["category"] == "fire"]
    jpeg = SnapshotStore(tmp_path / "snaps").resolve(*fire["evidence"]["snapshot"].split("/"))
    assert jpeg is not None
    image = cv2.imdecode(np.frombuffer(jpeg.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (432, 768)


def test_evidence_picture_scales_boxes_onto_the_main_frame_of_the_same_moment() -> None:
    from video.evidence import evidence_picture

    small = Frame("C", 1, 1000.0, 0, np.zeros((180, 320, 3), np.uint8))
    big = Frame("C", 9, 1000.2, 0, np.zeros((720, 1280, 3), np.uint8))
    det = Detections(
        np.array([[10, 20, 30, 40]], np.float32), np.array([0.9], np.float32), np.array([0]), ("fire",)
    )
    result = DetectionResult(small, det, "m", 1.0)
    pic = evidence_picture(result, big)
    assert pic.image is big.image and pic.captured_at == 1000.2
    assert pic.detections.xyxy.tolist() == [[40, 80, 120, 160]] and pic.detections.class_names == ("fire",)
    assert pic.points([(320, 180), (0, 90)]) == [(1280, 720), (0, 360)]
    for main in (None, Frame("C", 9, 1001.0, 0, big.image)):  # no main frame, or one of another moment
        fallback = evidence_picture(result, main)
        assert fallback.image is small.image and fallback.detections is det and fallback.scale == (1.0, 1.0)


def test_observations_confirm_and_clear_the_cameras_incident(tmp_path: Path) -> None:
    """Suspected opens (Likely), confirmed raises the certainty (Observed), cleared goes on the timeline."""
    from alarms.observations import Observation, ObservationLevel
    from alarms.storage.schema import timeline
    from video.pipeline import _Seen

    engine, directory = incident_engine(tmp_path / "se.db")
    cam = CameraConfig(id="C", url="/a.mp4", grid="G-001", rules=[{"kind": "smoke"}])  # type: ignore[list-item]
    video = video_pipeline(
        [cam],
        engine,
        directory,
        tmp_path / "snaps",
    )
    group = video.cameras["C"].groups["fire"]
    now = time.time()
    for i, level in enumerate(ObservationLevel):  # suspected, confirmed, cleared
        obs = Observation(f"cam:C:smoke:{level}", "C", "smoke", "G-001", now + i, level, 0.8, rule="smoke")
        video._observed(_Seen(obs, None, group))
    [row] = incident_rows(engine)
    assert (row["category"], row["certainty"], row["state"], row["trigger_count"]) == (
        "smoke",
        "Observed",
        "reported",
        2,
    )
    assert row["evidence"]["level"] == "confirmed" and row["evidence"]["cleared_at"] == now + 2
    with engine.store.read() as conn:
        actions = [r.action for r in conn.execute(select(timeline).order_by(timeline.c.id))]
    assert actions == ["created", "confirmed", "cleared"]


def test_hung_detector_is_replaced_and_detection_resumes(
    tmp_path: Path, assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model call that never returns: past detector_hang_s the pipeline builds a fresh detector, the fire
    still becomes an incident, health says what happened, and the hung thread ends once released."""
    import video.pipeline as video_module

    real_build = video_module.build_detector
    release = threading.Event()
    builds: list[str] = []

    class Hangs:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner
            self.name = inner.name

        def detect(self, frames):  # type: ignore[no-untyped-def]
            release.wait(30)  # hangs until the test lets go
            return self.inner.detect(frames)

        def close(self) -> None:
            self.inner.close()

    def build(cfg):  # type: ignore[no-untyped-def]
        builds.append(cfg.kind)
        detector = real_build(cfg)
        return Hangs(detector) if len(builds) == 1 else detector

    monkeypatch.setattr(video_module, "build_detector", build)
    engine, directory = incident_engine(tmp_path / "se.db")
    cameras = [
        CameraConfig(
            id="ROOM",
            url=f"file://{assets}/video/fire_room_getty.mp4",
            grid="G-001",
            rules=[{"kind": "fire"}],  # type: ignore[list-item]
        )
    ]
    registry = CollectorRegistry()
    video = video_pipeline(
        cameras,
        engine,
        directory,
        tmp_path / "snaps",
        video=VideoConfig(detector_hang_s=0.5, detector_restart_every_s=0, rules_tick_s=0.2),
        registry=registry,
    )
    video.start()
    try:
        assert wait_for(lambda: any(r["category"] == "fire" for r in incident_rows(engine)), 20, 0.1)
        status = video.status()[0].detectors["fire"].model_dump()
    finally:
        release.set()
        video.stop()
    workers = VideoConfig().batcher.workers
    assert builds == ["classical_fire"] * 2 * workers, "each worker's instance built, then all replaced"
    assert status["running"] is True and "hung" in status["error"] and "replaced" in status["error"]
    assert registry.get_sample_value("sharpeyes_video_errors_total", {"stage": "detector_hang"}) == 1
    assert wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith(PIPELINE_THREADS)], 5)
