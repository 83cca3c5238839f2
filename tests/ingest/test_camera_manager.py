"""CameraManager with real decoders on real files: errors, handoff, metrics, subscribers, sub-streams."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ingest import errors
from ingest.camera_spec import CameraSpec
from ingest.manager import CameraManager
from ingest.types import Frame, StreamHealth, StreamState
from tests.support.ports import free_port
from tests.support.rtsp import wait_for

PASSWORD = "hunter2-Secret"


def _bad_codec_mkv(src: Path, dst: Path) -> Path:
    """A Matroska file whose video codec id no FFmpeg decoder knows (remuxed, then the id renamed)."""
    tmp = dst.with_suffix(".tmp.mkv")
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for i, packet in enumerate(inp.demux(vin)):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)
            if i > 30:
                break
    data = tmp.read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    dst.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ"))
    return dst


def _audio_only_wav(dst: Path) -> Path:
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000)
    return dst


@pytest.fixture(scope="module")
def broken(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CameraManager, list]]:
    """One good camera next to every kind of broken one, in one manager."""
    tmp = tmp_path_factory.mktemp("broken")
    (tmp / "notes.mp4").write_text("this is not a video\n" * 50)
    specs = [
        CameraSpec("GOOD", str(assets / "video" / "market_street_1906_pd.mp4")),
        CameraSpec("NOT-VIDEO", str(tmp / "notes.mp4")),
        CameraSpec(
            "BAD-CODEC", str(_bad_codec_mkv(assets / "video" / "fire_aerial_wildfire.mp4", tmp / "x.mkv"))
        ),
        CameraSpec("AUDIO-ONLY", str(_audio_only_wav(tmp / "tone.wav"))),
        CameraSpec("MISSING", f"file://{tmp}/nope.mp4"),
        CameraSpec(
            "DEAD-HOST", f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/live", backoff_initial_s=0.2
        ),
    ]
    changes: list[StreamHealth] = []
    with CameraManager(specs, on_state_change=changes.append, registry=CollectorRegistry()) as manager:
        assert wait_for(lambda: all(h.error for h in manager.health() if h.camera_id != "GOOD"), 10)
        yield manager, changes


@pytest.mark.parametrize(
    ("camera_id", "reason", "state"),
    [
        ("NOT-VIDEO", errors.NOT_VIDEO, StreamState.OFFLINE),
        ("BAD-CODEC", errors.UNSUPPORTED_CODEC, StreamState.OFFLINE),
        ("AUDIO-ONLY", errors.NO_VIDEO_STREAM, StreamState.OFFLINE),
        ("MISSING", errors.FILE_NOT_FOUND, StreamState.OFFLINE),
        ("DEAD-HOST", errors.CONNECTION_REFUSED, None),
    ],
)
def test_broken_sources_give_clear_errors_while_others_run(
    broken: tuple[CameraManager, list], camera_id: str, reason: str, state: StreamState | None
) -> None:
    manager, changes = broken
    health = {h.camera_id: h for h in manager.health()}
    bad = health[camera_id]
    assert bad.error is not None and bad.error.startswith(reason), bad.error
    assert bad.state in ((state,) if state else (StreamState.RECONNECTING, StreamState.OFFLINE))
    assert bad.frames == 0
    assert any(c.camera_id == camera_id and c.error and c.error.startswith(reason) for c in changes)
    good_before = health["GOOD"].frames
    assert wait_for(lambda: manager.health()[0].frames > good_before + 5, 2.0)
    assert manager.health()[0].state is StreamState.ONLINE


def test_dead_host_keeps_retrying_with_backoff(broken: tuple[CameraManager, list]) -> None:
    manager, _ = broken
    assert wait_for(lambda: {h.camera_id: h for h in manager.health()}["DEAD-HOST"].reconnects >= 2, 5.0)


def test_password_never_in_health_logs_or_metrics(assets: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/live?channel=1"
    registry = CollectorRegistry()
    changes: list[StreamHealth] = []
    caplog.set_level(logging.DEBUG)
    with CameraManager(
        [CameraSpec("CAM-PW", url, backoff_initial_s=0.1, backoff_max_s=0.2)],
        registry=registry,
        on_state_change=changes.append,
    ) as manager:
        assert wait_for(lambda: manager.health()[0].reconnects >= 2, 5)
        time.sleep(0.6)  # a watchdog tick fills the gauges
        health = manager.health()
    exposed = [repr(health), repr(changes), caplog.text, generate_latest(registry).decode()]
    assert "admin:***@127.0.0.1" in health[0].url
    for text in exposed:
        assert PASSWORD not in text
    assert "connection refused" in caplog.text
    assert caplog.text.count("connection refused (") <= 2, "one log line per distinct cause, not per retry"


def test_consumer_never_gets_a_stale_frame(assets: Path) -> None:
    max_age = 0.15
    spec = CameraSpec("CAM-S", str(assets / "video" / "market_street_1906_pd.mp4"), max_frame_age_s=max_age)
    registry = CollectorRegistry()
    frozen = threading.Event()

    def freeze_once(frame: Frame) -> None:  # the camera stops delivering for 0.8 s after its 20th frame
        if frame.seq == 20:
            frozen.set()
            time.sleep(0.8)

    got: list[tuple[Frame, int]] = []
    misses_while_frozen = 0
    with CameraManager([spec], registry=registry, watchdog_interval_s=0.1) as manager:
        manager.subscribe(freeze_once)
        assert wait_for(frozen.is_set, 10)
        end = time.monotonic() + 0.7
        while time.monotonic() < end:
            frame = manager.latest("CAM-S")
            if frame is None:
                misses_while_frozen += 1
            else:
                got.append((frame, time.monotonic_ns()))
            time.sleep(0.01)
        assert wait_for(lambda: manager.latest("CAM-S") is not None, 2.0), (
            "fresh frames again after the freeze"
        )
        time.sleep(0.3)  # a watchdog tick copies the count to the metric
        health = manager.health()[0]
    assert misses_while_frozen >= 30, "the held frame turned stale and was no longer handed out"
    for frame, handed_at in got:
        assert handed_at - frame.mono_ns <= (max_age + 0.05) * 1e9
    assert health.dropped == 1, "the stale frame is dropped and counted once"
    assert registry.get_sample_value("sharpeyes_camera_dropped_frames_total", {"camera": "CAM-S"}) == 1


def test_slow_consumer_gets_the_newest_frame_not_a_backlog(assets: Path) -> None:
    spec = CameraSpec("CAM-B", str(assets / "video" / "market_street_1906_pd.mp4"))
    seen: list[int] = []
    with CameraManager([spec]) as manager:
        assert wait_for(lambda: manager.health()[0].state is StreamState.ONLINE, 10)
        last = -1
        for _ in range(4):
            frame = manager.latest("CAM-B", newer_than=last, timeout=1.0)
            assert frame is not None
            seen.append(frame.seq)
            last = frame.seq
            time.sleep(0.3)  # a slow detector
        assert manager.health()[0].fps_out > 0
    jumps = [b - a for a, b in itertools.pairwise(seen)]
    assert all(j >= 6 for j in jumps), f"each get skips to the newest frame: {seen}"


def test_metrics_per_camera_on_the_given_registry(assets: Path) -> None:
    registry = CollectorRegistry()
    spec = CameraSpec("CAM-M", str(assets / "video" / "crosswalk_pedestrians.mp4"))
    with CameraManager([spec], registry=registry, watchdog_interval_s=0.1) as manager:
        assert wait_for(lambda: manager.health()[0].frames > 40, 10)
        time.sleep(0.3)
        labels = {"camera": "CAM-M"}
        assert registry.get_sample_value("sharpeyes_camera_frames_total", labels) > 40
        assert registry.get_sample_value("sharpeyes_camera_state", labels) == 2
        assert registry.get_sample_value("sharpeyes_camera_fps", labels) == pytest.approx(24, rel=0.2)
        assert registry.get_sample_value("sharpeyes_camera_reconnects_total", labels) == 0
        assert registry.get_sample_value("sharpeyes_camera_decode_errors_total", labels) == 0
    for family in registry.collect():
        for sample in family.samples:
            assert set(sample.labels) <= {"camera"}, sample


def test_subscribers_get_frames_and_a_failing_one_is_isolated(assets: Path) -> None:
    registry = CollectorRegistry()
    frames: list[Frame] = []

    def broken_consumer(_frame: Frame) -> None:
        raise RuntimeError("consumer bug")

    spec = CameraSpec("CAM-C", str(assets / "video" / "fire_aerial_wildfire.mp4"))
    with CameraManager([spec], registry=registry) as manager:
        manager.subscribe(broken_consumer)
        unsubscribe = manager.subscribe(frames.append)
        assert wait_for(lambda: len(frames) > 20, 10)
        unsubscribe()
        n = len(frames)
        time.sleep(0.3)
        assert len(frames) == n
        assert manager.health()[0].state is StreamState.ONLINE
    assert registry.get_sample_value("sharpeyes_camera_loop_errors_total", {"camera": "CAM-C"}) > 20


def test_detect_url_feeds_detectors_and_main_stream_gives_keyframes(assets: Path) -> None:
    spec = CameraSpec(
        "CAM-D",
        url=str(assets / "video" / "fire_aerial_wildfire.mp4"),  # "main": keyframes every 3 s
        detect_url=str(assets / "video" / "fire_room_getty.mp4"),  # stands in for the sub-stream
    )
    frames: list[Frame] = []
    with CameraManager([spec]) as manager:
        manager.subscribe(frames.append)
        assert wait_for(lambda: len(frames) > 30, 10)
        main = manager.latest("CAM-D", stream="main", timeout=2.0)
        detect = manager.latest("CAM-D")
        streams = {h.stream: h for h in manager.health(all_streams=True)}
        assert [h.stream for h in manager.health()] == ["detect"]
    assert {f.image.shape for f in frames} == {(432, 768, 3)}
    assert detect is not None and detect.image.shape == (432, 768, 3)
    assert main is None or main.image.shape == (360, 640, 3)
    assert streams["main"].frames >= 1 and streams["main"].frames <= streams["detect"].frames // 10


def test_restart_keeps_counting_frames(assets: Path) -> None:
    spec = CameraSpec("CAM-R", str(assets / "video" / "fire_aerial_wildfire.mp4"))
    with CameraManager([spec]) as manager:
        assert wait_for(lambda: manager.health()[0].frames > 10, 10)
        before = manager.latest("CAM-R")
        manager.restart("CAM-R")
        assert before is not None
        assert wait_for(lambda: (f := manager.latest("CAM-R")) is not None and f.seq > before.seq + 10, 10)
        assert manager.health()[0].state is StreamState.ONLINE


def test_watchdog_replaces_a_hung_reader(assets: Path) -> None:
    registry = CollectorRegistry()
    hung = threading.Event()
    frames: list[Frame] = []

    def consumer(frame: Frame) -> None:
        frames.append(frame)
        if len(frames) == 10 and not hung.is_set():
            hung.set()
            time.sleep(4.0)  # the reader thread is stuck here, past stall + open timeout + grace

    spec = CameraSpec(
        "CAM-H", str(assets / "video" / "fire_aerial_wildfire.mp4"), stall_s=0.5, open_timeout_s=0.5
    )
    with CameraManager([spec], registry=registry, watchdog_interval_s=0.1) as manager:
        manager.subscribe(consumer)
        assert wait_for(hung.is_set, 10)
        labels = {"camera": "CAM-H"}
        assert wait_for(
            lambda: registry.get_sample_value("sharpeyes_camera_reader_restarts_total", labels), 4.0
        )
        assert wait_for(lambda: len(frames) > 20, 3.0), (
            "the replacement reader delivers while the old one hangs"
        )
        assert manager.health()[0].state is StreamState.ONLINE
    seqs = [f.seq for f in frames]
    assert len(seqs) == len(set(seqs)), "sequence numbers never repeat across the restart"


def _resolution_change_h264(dst: Path) -> Path:
    """An H.264 elementary stream whose size changes mid-stream (two encodes, concatenated), as a camera
    whose encoder is re-configured produces."""
    parts = []
    for i, (w, h) in enumerate([(320, 240), (640, 360)]):
        part = dst.with_suffix(f".{i}.h264")
        with av.open(str(part), "w", format="h264") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            for n in range(25):
                image = av.VideoFrame.from_ndarray(
                    np.full((h, w, 3), (n * 9) % 255, dtype="uint8"), format="rgb24"
                )
                for packet in stream.encode(image):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        parts.append(part.read_bytes())
    dst.write_bytes(b"".join(parts))
    return dst


def test_resolution_change_mid_stream_keeps_the_camera_online(tmp_path: Path) -> None:
    path = _resolution_change_h264(tmp_path / "switch.h264")
    sizes: set[tuple[int, int]] = set()
    with CameraManager([CameraSpec("SWITCH", str(path))], registry=CollectorRegistry()) as manager:
        manager.subscribe(lambda f: sizes.add(f.image.shape[:2]))
        assert wait_for(lambda: len(sizes) == 2, 10), sizes
        health = manager.health()[0]
    assert sizes == {(240, 320), (360, 640)}
    assert health.decode_errors == 0 and health.error is None
