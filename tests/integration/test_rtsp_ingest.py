"""Ingest against a real GStreamer RTSP server on loopback: rate, looping, errors, stalls, video loss."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest import errors
from ingest.camera_spec import CameraSpec
from ingest.health import VideoLossEvent
from ingest.manager import CameraManager
from ingest.types import Frame, StreamHealth, StreamState
from tests.support.ports import free_port
from tests.support.rtsp import RtspServer, default_mounts, require_gstreamer, short_clip, wait_for

PASSWORD = "rtsp-Pa55word"
FAST = dict(backoff_initial_s=0.2, backoff_max_s=0.5, open_timeout_s=3.0)


@pytest.fixture(scope="module")
def server(assets: Path) -> Iterator[RtspServer]:
    """Shared by the read-only tests of this module (each client gets its own pipeline)."""
    require_gstreamer()
    with RtspServer(default_mounts(assets)) as srv:
        yield srv


@pytest.fixture
def private_server(assets: Path, tmp_path: Path) -> Iterator[RtspServer]:
    """A server the test may stop, freeze and restart; ``short`` is a 3 s clip that must loop."""
    require_gstreamer()
    clip = short_clip(assets / "video" / "fire_aerial_wildfire.mp4", tmp_path / "short.mp4", 3.0)
    srv = RtspServer({"short": clip, "market": assets / "video" / "market_street_1906_pd.mp4"}).start()
    yield srv
    if srv.running:
        srv.resume()
    srv.stop()


def _h(manager: CameraManager, camera_id: str) -> StreamHealth:
    return next(h for h in manager.health() if h.camera_id == camera_id)


def _online(manager: CameraManager, camera_id: str, timeout: float = 15.0) -> None:
    assert wait_for(lambda: _h(manager, camera_id).state is StreamState.ONLINE, timeout), _h(
        manager, camera_id
    )


@pytest.mark.parametrize(
    ("path", "transport", "fps", "shape"),
    [
        ("market_street_1906_pd", "tcp", 29.97, (360, 640, 3)),
        ("crosswalk_pedestrians", "udp", 23.98, (360, 640, 3)),
        ("fire_room_getty", "tcp", 23.98, (432, 768, 3)),
    ],
)
def test_rtsp_camera_reads_at_source_fps(
    server: RtspServer, path: str, transport: str, fps: float, shape: tuple
) -> None:
    frames: list[Frame] = []
    spec = CameraSpec("CAM-1", server.url(path, user="viewer", password=PASSWORD), transport=transport)  # type: ignore[arg-type]
    with CameraManager([spec]) as manager:
        manager.subscribe(frames.append)
        _online(manager, "CAM-1")
        time.sleep(1.2)  # FFmpeg's stream probing (~1 s) is handed over in one burst at start
        start = _h(manager, "CAM-1").frames
        time.sleep(2.0)
        health = _h(manager, "CAM-1")
    measured = (health.frames - start) / 2.0
    print(f"RTSP {path} over {transport}: {measured:.2f} fps (source {fps})")
    assert measured == pytest.approx(fps, rel=0.15)
    assert health.decode_errors == 0 and health.reconnects == 0
    assert frames[-1].image.shape == shape
    assert 0 <= time.time() - frames[-1].captured_at < 1.0
    assert PASSWORD not in repr(health)


def test_rtsp_server_loops_a_short_clip(private_server: RtspServer) -> None:
    spec = CameraSpec("CAM-LOOP", private_server.url("short"))
    with CameraManager([spec]) as manager:
        _online(manager, "CAM-LOOP")
        time.sleep(1.0)  # past the start-up burst
        start = _h(manager, "CAM-LOOP").frames
        time.sleep(4.0)  # the clip is 3 s: the stream must run through its end without a reconnect
        health = _h(manager, "CAM-LOOP")
    assert (health.frames - start) / 4.0 == pytest.approx(29.97, rel=0.15)
    assert health.state is StreamState.ONLINE and health.reconnects == 0


def test_broken_url_and_dead_host_while_another_camera_runs(server: RtspServer) -> None:
    specs = [
        CameraSpec("GOOD", server.url("market_street_1906_pd")),
        CameraSpec("NO-SUCH-PATH", server.url("no_such_path", user="admin", password=PASSWORD), **FAST),
        CameraSpec("DEAD-HOST", f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/live", **FAST),
    ]
    with CameraManager(specs) as manager:
        _online(manager, "GOOD")
        assert wait_for(
            lambda: all(_h(manager, c).reconnects >= 2 for c in ("NO-SUCH-PATH", "DEAD-HOST")), 10
        )
        start = _h(manager, "GOOD").frames
        time.sleep(1.0)
        health = {h.camera_id: h for h in manager.health()}
    assert health["NO-SUCH-PATH"].error.startswith(errors.NOT_FOUND), health["NO-SUCH-PATH"].error
    assert health["DEAD-HOST"].error.startswith(errors.CONNECTION_REFUSED), health["DEAD-HOST"].error
    assert health["GOOD"].frames - start >= 20 and health["GOOD"].state is StreamState.ONLINE
    assert PASSWORD not in repr(health)


def test_video_loss_when_the_server_stops_and_clear_when_it_returns(
    assets: Path, private_server: RtspServer
) -> None:
    down_after = 1.5
    events: list[VideoLossEvent] = []
    states: list[StreamState] = []
    specs = [
        CameraSpec("CAM-VL", private_server.url("market"), down_after_s=down_after, stall_s=2.0, **FAST),
        CameraSpec("BYSTANDER", str(assets / "video" / "crosswalk_pedestrians.mp4")),
    ]

    def on_state(h: StreamHealth) -> None:
        if h.camera_id == "CAM-VL":
            states.append(h.state)

    with CameraManager(specs, on_video_loss=events.append, on_state_change=on_state) as manager:
        _online(manager, "CAM-VL")
        _online(manager, "BYSTANDER")
        stopped_at = time.monotonic()
        private_server.stop()  # killed: the camera lost power
        assert wait_for(
            lambda: _h(manager, "CAM-VL").state in (StreamState.RECONNECTING, StreamState.OFFLINE), 5
        )
        assert wait_for(lambda: any(e.down for e in events), down_after + 5)
        down = next(e for e in events if e.down)
        assert down.camera_id == "CAM-VL"
        assert down.at - stopped_at >= down_after - 0.1
        assert down.since >= stopped_at - 0.1
        bystander = _h(manager, "BYSTANDER").frames
        assert _h(manager, "CAM-VL").error is not None
        assert len([e for e in events if e.down]) == 1, "one down event per outage, not one per retry"

        private_server.start()  # same port: the camera is back
        _online(manager, "CAM-VL", timeout=15)
        assert wait_for(lambda: any(not e.down for e in events), 3)
        assert _h(manager, "BYSTANDER").frames > bystander + 10, "the other camera never stopped"
        assert _h(manager, "CAM-VL").reconnects >= 1
    assert [e.down for e in events] == [True, False]
    assert states[0] is StreamState.ONLINE and StreamState.RECONNECTING in states
    assert states[states.index(StreamState.RECONNECTING) :].count(StreamState.ONLINE) >= 1


def test_stall_is_detected_and_the_reader_recovers(private_server: RtspServer) -> None:
    spec = CameraSpec("CAM-ST", private_server.url("market"), stall_s=1.0, **FAST)
    errors_seen: list[str] = []
    with CameraManager([spec], on_state_change=lambda h: errors_seen.append(h.error or "")) as manager:
        _online(manager, "CAM-ST")
        private_server.pause()  # connection stays open, no data: a hung camera
        try:
            assert wait_for(lambda: any(e.startswith(errors.STALLED) for e in errors_seen), 5), errors_seen
        finally:
            private_server.resume()
        _online(manager, "CAM-ST", timeout=15)
        frames = _h(manager, "CAM-ST").frames
        assert wait_for(lambda: _h(manager, "CAM-ST").frames > frames + 10, 5)
