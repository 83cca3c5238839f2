"""Live-video routes against the real service in this process (uvicorn on loopback, the GStreamer RTSP
test server, mosquitto) and a real aiortc peer as the viewer: who may call what, the viewer cap, MJPEG,
and that shutdown closes every peer connection and stops every live-video thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from dashboard.app import create_app
from sharpeyes.runtime import LocalRuntime
from sharpeyes.settings import parse_settings
from tests.support.clips import baseline_clip
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.rtsp import RtspServer, require_gstreamer

ADMIN, S1, S2 = "tok-admin", "tok-s1", "tok-s2"
ENV = {"T_ADMIN": ADMIN, "T_S1": S1, "T_S2": S2, "CAM_PW": "Cam-pa55-word"}
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "open_timeout_s": 3.0, "stall_s": 3.0}


class Served:
    """The app under uvicorn on a thread; ``stop()`` runs the lifespan's shutdown like SIGTERM would."""

    def __init__(self, runtime: LocalRuntime, port: int) -> None:
        self.runtime = runtime
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive()

    def call(self, method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.base + path, headers=headers, timeout=15, **kw)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_gstreamer()
    tmp = tmp_path_factory.mktemp("liveapi")
    rtsp = RtspServer({"plain": baseline_clip(tmp / "plain.mp4", seconds=6)}).start()
    broker = Mosquitto(tmp / "mosquitto").start()
    cfg = {
        "storage": {"url": f"sqlite:///{tmp / 'se.db'}", "snapshots_dir": str(tmp / "snaps")},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "live-api-test", "embedded": False},
        "grids": [
            {"id": "G-001", "community": "C-1", "street": "S-1"},
            {"id": "G-002", "community": "C-2", "street": "S-2"},
        ],
        "cameras": [
            {"id": "CAM-1", "url": rtsp.url("plain", user="u", password="${CAM_PW}"), "grid": "G-001", **FAST}
        ],
        "auth": {
            "api_tokens": [
                {"name": "admin", "token_env": "T_ADMIN", "role": "admin"},
                {"name": "s1", "token_env": "T_S1", "role": "operator", "streets": ["S-1"]},
                {"name": "s2", "token_env": "T_S2", "role": "operator", "streets": ["S-2"]},
            ]
        },
        "live_video": {"max_viewers_per_camera": 2, "idle_stop_s": 0.5},
    }
    settings = parse_settings(yaml.safe_dump(cfg), env=ENV)
    served = Served(LocalRuntime(settings, env=ENV), free_port())
    try:
        yield served.start()
    finally:
        if served.thread.is_alive():
            served.stop()
        broker.stop()
        rtsp.stop()


async def _viewer(served: Served, token: str = S1) -> tuple[Any, httpx.Response, asyncio.Event]:
    """A real WebRTC viewer (aiortc) that sets ``got`` once it has decoded a frame."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    got = asyncio.Event()
    readers: list[asyncio.Task[None]] = []

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def read() -> None:
            while True:
                await track.recv()
                got.set()

        readers.append(asyncio.ensure_future(read()))

    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp, "type": "offer"}
    r = await asyncio.to_thread(served.call, "POST", "/api/cameras/CAM-1/webrtc", token, json=body)
    if r.status_code == 200:
        await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], r.json()["type"]))
    return pc, r, got


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/cameras/CAM-1/webrtc"),
        ("DELETE", "/api/cameras/CAM-1/webrtc/x"),
        ("GET", "/api/cameras/CAM-1/mjpeg"),
        ("GET", "/api/cameras/CAM-1/frame.jpg"),
        ("GET", "/api/cameras/CAM-1/detections"),
    ],
)
def test_live_routes_refuse_anonymous_and_out_of_scope(served: Served, method: str, path: str) -> None:
    body = {"json": {"sdp": "v=0 not really", "type": "offer"}} if method == "POST" else {}
    assert served.call(method, path, None, **body).status_code == 401
    assert served.call(method, path, S2, **body).status_code == 404  # another street: not even confirmed
    assert served.call(method, path.replace("CAM-1", "CAM-9"), S1, **body).status_code == 404


def test_mjpeg_streams_jpeg_parts_at_a_limited_rate(served: Served) -> None:
    parts, started = 0, time.monotonic()
    with httpx.stream(
        "GET", f"{served.base}/api/cameras/CAM-1/mjpeg?fps=30", headers={"Authorization": f"Bearer {S1}"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("multipart/x-mixed-replace")
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            parts = buf.count(b"\xff\xd8\xff")  # JPEG start markers
            if time.monotonic() - started > 2.0:
                break
    assert 3 <= parts <= 2.5 * 5 + 2  # some frames, but never more than mjpeg_max_fps (5) allows
    assert b"content-type: image/jpeg" in buf


def test_webrtc_plays_caps_viewers_and_closes_on_leave(served: Served) -> None:
    hub = served.runtime.services.live_video
    assert hub is not None

    async def scenario() -> None:
        a, ra, got_a = await _viewer(served)
        b, rb, got_b = await _viewer(served)
        c, rc, _ = await _viewer(served)
        try:
            assert (ra.status_code, rb.status_code) == (200, 200)
            assert rc.status_code == 429  # max_viewers_per_camera: 2
            await asyncio.wait_for(asyncio.gather(got_a.wait(), got_b.wait()), 10)
            assert "Cam-pa55-word" not in ra.text
            leave = await asyncio.to_thread(
                served.call, "DELETE", f"/api/cameras/CAM-1/webrtc/{ra.json()['id']}", S2
            )
            assert leave.status_code == 404  # not their camera, not their peer
            leave = await asyncio.to_thread(
                served.call, "DELETE", f"/api/cameras/CAM-1/webrtc/{ra.json()['id']}", S1
            )
            assert leave.status_code == 204
            assert hub.viewers("CAM-1") == 1
        finally:
            for pc in (a, b, c):
                await pc.close()

    asyncio.run(scenario())


def test_shutdown_closes_peer_connections_and_threads(served: Served) -> None:
    hub = served.runtime.services.live_video
    assert hub is not None
    pcs: list[Any] = []

    async def connect() -> None:
        pc, r, got = await _viewer(served, ADMIN)
        assert r.status_code == 200
        await asyncio.wait_for(got.wait(), 10)
        pcs.append(pc)
        server_pcs = [p.pc for p in hub.peers.values()]
        assert server_pcs
        await asyncio.to_thread(served.stop)  # the lifespan's shutdown, as on SIGTERM
        assert hub.peers == {}
        assert all(p.connectionState == "closed" for p in server_pcs)
        await pc.close()

    asyncio.run(connect())
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith("live-demux-")], names
    assert not [n for n in names if n.startswith("cam-") or n == "video-alarms"], names
    assert all(not s["running"] for s in hub.status()["sources"].values())
