"""The API role shows a shard's cameras whole: stream health from the shard that owns each camera, and live
video relayed from that shard only while someone watches.

Real parts: a nats-server, a camera shard (the Ray actor's class, run in this process: the relay and the
health reports are its own threads either way; test_ray_shard_view.py runs it under Ray), the API role under
uvicorn, HTTP viewers and an aiortc WebRTC viewer.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from dashboard.app import create_app
from sharpeyes.distributed.api_role import ApiRuntime
from sharpeyes.distributed.reconciler import camera_docs, shard_settings_doc
from sharpeyes.distributed.roles import api_settings
from sharpeyes.distributed.shard_actor import CameraShard
from sharpeyes.distributed.shard_health import HealthBoard
from sharpeyes.distributed.shards import shard_of
from sharpeyes.settings import Settings, parse_settings
from tests.support.nats_server import NatsServer
from tests.support.ports import free_port
from video.status import CameraStatus

pytestmark = pytest.mark.timeout(180)
ON_SHARD_0, ON_SHARD_1 = "CAM-1", "CAM-3"  # jump hash with 2 shards (asserted below)
ADMIN, S1, S2 = "tok-admin", "tok-s1", "tok-s2"
ENV = {"T_ADMIN": ADMIN, "T_S1": S1, "T_S2": S2}


def config(tmp: Path, nats_url: str, clip: Path) -> dict[str, Any]:
    """Both processes read one config, as in a deployment: 2 shards, one camera on each."""
    return {
        "runtime": "ray",
        "storage": {"url": f"sqlite:///{tmp / 'api.db'}", "snapshots_dir": str(tmp / "snaps")},
        "mqtt": {"embedded": False, "port": 1},
        "http": {"host": "127.0.0.1", "port": free_port()},
        "grids": [
            {"id": "G-001", "name": "一", "community": "C-1", "street": "S-1"},
            {"id": "G-002", "name": "二", "community": "C-2", "street": "S-2"},
        ],
        "cameras": [
            {
                "id": ON_SHARD_0,
                "name": "东门",
                "url": f"file://{clip}",
                "grid": "G-001",
                "detect_fps": 2,
                "detector": "fire",
                "rules": [{"kind": "fire"}],
            },
            {"id": ON_SHARD_1, "name": "西门", "url": f"file://{clip}", "grid": "G-001"},
        ],
        "auth": {
            "api_tokens": [
                {"name": "admin", "token_env": "T_ADMIN", "role": "admin"},
                {"name": "s1", "token_env": "T_S1", "role": "operator", "streets": ["S-1"]},
                {"name": "s2", "token_env": "T_S2", "role": "operator", "streets": ["S-2"]},
            ]
        },
        "detectors": {"fire": {"kind": "classical_fire", "sensitivity": 0.5}},
        "live_video": {"idle_stop_s": 0.5},
        "distributed": {
            "shards": 2,
            "nats_url": nats_url,
            "buttons_via": "ingest",
            "delivery": {"via": "queue"},
            "spool_dir": str(tmp / "spool"),
        },
    }


class ServedApi:
    """`--role api` as the CLI builds it, under uvicorn on a thread (lifespan start and stop run)."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = ApiRuntime(api_settings(settings), env=ENV, cameras=settings.cameras)
        self.base = f"http://{settings.http.host}:{settings.http.port}"
        cfg = uvicorn.Config(
            create_app(self.runtime), host=settings.http.host, port=settings.http.port, log_level="warning"
        )
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, name="api-role", daemon=True)

    def start(self) -> ServedApi:
        self.thread.start()
        wait_for("API up", lambda: self.server.started, 30)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def get(self, path: str, token: str = S1, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=15, **kw)

    def cameras(self, token: str = S1) -> dict[str, dict[str, Any]]:
        r = self.get("/api/cameras", token)
        assert r.status_code == 200, r.text
        return {c["id"]: c for c in r.json()["items"]}


def wait_for(what: str, cond: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.fixture
def rig(
    nats_server: NatsServer, tmp_path: Path, assets: Path
) -> Iterator[tuple[Settings, CameraShard, ServedApi]]:
    assert shard_of(ON_SHARD_0, 2) == 0 and shard_of(ON_SHARD_1, 2) == 1
    clip = assets / "video" / "fire_room_getty.mp4"
    settings = parse_settings(yaml.safe_dump(config(tmp_path, nats_server.url, clip)), "se.yaml", env=ENV)
    docs = camera_docs(settings)
    shard = CameraShard(0, shard_settings_doc(settings), [docs[ON_SHARD_0]])  # shard 1 never comes up
    api = ServedApi(settings)
    assert api.runtime.shard_live is not None
    api.runtime.shard_live.idle_s = 1.0  # lets the lease lapse sooner
    try:
        yield settings, shard, api.start()
    finally:
        api.stop()
        shard.stop()


def test_health_from_the_owning_shard_then_unknown_when_it_stops(
    rig: tuple[Settings, CameraShard, ServedApi],
) -> None:
    _, shard, api = rig
    online = wait_for(
        "shard 0's camera online on /api/cameras",
        lambda: (c := api.cameras()[ON_SHARD_0])["state"] == "online" and (c["fps_in"] or 0) > 0 and c,
        60,
    )
    assert online["shard"] == 0 and online["name"] == "东门" and online["street_id"] == "S-1"
    assert online["frames"] > 0 and online["last_frame_age_s"] is not None
    other = api.cameras()[ON_SHARD_1]
    assert other["state"] == "unknown" and other["shard"] == 1, "no shard 1: never reported, never healthy"
    assert api.cameras(S2) == {}, "scope: another street's operator sees neither camera"

    shard.view.stop()  # the shard goes away cleanly: its goodbye turns the row unknown at once
    gone = wait_for(
        "the row unknown", lambda: (c := api.cameras()[ON_SHARD_0])["state"] == "unknown" and c, 10
    )
    assert gone["shard"] == 0 and "shard 0" in (gone["error"] or "")


def test_live_frames_relayed_only_while_watched(rig: tuple[Settings, CameraShard, ServedApi]) -> None:
    _, shard, api = rig
    wait_for("camera online", lambda: api.cameras()[ON_SHARD_0]["state"] == "online", 60)
    assert shard.view.live.relayed() == [], "nobody watches: the shard sends nothing"
    assert api.get(f"/api/cameras/{ON_SHARD_0}/detections").json()["frame_size"] is None

    assert api.get(f"/api/cameras/{ON_SHARD_0}/frame.jpg", S2).status_code == 404  # scope as today
    r = api.get(f"/api/cameras/{ON_SHARD_0}/frame.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8" and len(r.content) > 1000
    assert shard.view.live.relayed() == [ON_SHARD_0]
    assert api.get(f"/api/cameras/{ON_SHARD_1}/frame.jpg").status_code == 404  # its shard is down

    def watched_boxes() -> Any:  # as the page does: pictures (or video) and, beside them, the boxes
        assert api.get(f"/api/cameras/{ON_SHARD_0}/frame.jpg").status_code == 200
        return (d := api.get(f"/api/cameras/{ON_SHARD_0}/detections").json())["frame_size"] and d

    boxes = wait_for("the detector's boxes relayed with the frames", watched_boxes, 20)
    assert boxes["frame_size"] == [768, 432] and isinstance(boxes["boxes"], list)
    assert boxes["camera_id"] == ON_SHARD_0 and boxes["captured_at"] > time.time() - 10
    assert api.get(f"/api/cameras/{ON_SHARD_0}/detections", S2).status_code == 404

    parts = mjpeg_parts(api, ON_SHARD_0, 3)
    assert len(parts) == 3 and all(p[:2] == b"\xff\xd8" for p in parts)
    assert len(set(parts)) == 3, "each part a new frame"

    got = asyncio.run(webrtc_frame(api, ON_SHARD_0))
    assert got is not None and got[0] > 0 and got[1] > 0, "a decoded WebRTC frame (width, height)"

    wait_for("the shard stops relaying once nobody watches", lambda: shard.view.live.relayed() == [], 30)
    sent = shard.view.live.published
    time.sleep(1.0)
    assert shard.view.live.published == sent


def mjpeg_parts(api: ServedApi, camera: str, n: int) -> list[bytes]:
    headers = {"Authorization": f"Bearer {S1}"}
    parts: list[bytes] = []
    buf = b""
    with httpx.stream("GET", f"{api.base}/api/cameras/{camera}/mjpeg", headers=headers, timeout=15) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.startswith(b"content-length")
                )
                if len(rest) < length + 2:
                    break
                parts.append(rest[:length])
                buf = rest[length + 2 :]
            if len(parts) >= n:
                return parts
    return parts


async def webrtc_frame(api: ServedApi, camera: str) -> tuple[int, int] | None:
    """A real aiortc viewer: offer, answer, the first decoded frame's size; then it says goodbye."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    got: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
    readers: list[asyncio.Task[None]] = []

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def read() -> None:
            frame = await track.recv()
            if not got.done():
                got.set_result((frame.width, frame.height))

        readers.append(asyncio.ensure_future(read()))

    try:
        await pc.setLocalDescription(await pc.createOffer())
        body = {"sdp": pc.localDescription.sdp, "type": "offer"}
        headers = {"Authorization": f"Bearer {S1}"}
        async with httpx.AsyncClient(base_url=api.base, headers=headers, timeout=15) as client:
            r = await client.post(f"/api/cameras/{camera}/webrtc", json=body)
            assert r.status_code == 200, r.text
            answer = r.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            try:
                return await asyncio.wait_for(got, 30)
            finally:
                await client.delete(f"/api/cameras/{camera}/webrtc/{answer['id']}")
    finally:
        for reader in readers:
            reader.cancel()
        await pc.close()


def test_a_report_is_believed_only_from_the_owning_shard_and_only_while_fresh() -> None:
    board = HealthBoard(lambda cam: shard_of(cam, 2))
    base = CameraStatus.model_validate(
        {
            "id": ON_SHARD_1,
            "name": "西门",
            "grid_id": "G-001",
            "community_id": "C-1",
            "street_id": "S-1",
            "enabled": True,
            "url": "rtsp://x",
            "state": "on_shard",
        }
    )

    def report(shard: int, seq: int, state: str, every_s: float = 2.0, boot: str = "b1") -> bytes:
        cams = {ON_SHARD_1: {"state": state, "fps_in": 25.0, "last_frame_age_s": 0.1}}
        doc = {"v": 1, "shard": shard, "boot": boot, "seq": seq, "every_s": every_s, "cameras": cams}
        return json.dumps(doc).encode()

    board.accept(report(0, 1, "online"))  # shard 0 does not own CAM-3: not believed
    assert board.row(base).state == "unknown"
    board.accept(report(1, 5, "online"))
    row = board.row(base)
    assert (row.state, row.shard, row.fps_in, row.name) == ("online", 1, 25.0, "西门")
    board.accept(report(1, 4, "offline"))  # an older message of the same run: ignored
    assert board.row(base).state == "online"
    board.accept(report(1, 1, "reconnecting", boot="b2"))  # a restarted shard starts its count again
    assert board.row(base).state == "reconnecting"
    later = time.monotonic() + 3 * 2.0 + 1.5  # three heartbeats missed
    assert board.row(base, now=later).state == "unknown"
    board.accept(b"{not json")
    board.accept(
        json.dumps({"v": 1, "shard": 1, "boot": "b3", "seq": 1, "every_s": 2, "cameras": {"x": 1}}).encode()
    )
    assert board.row(base).state == "reconnecting", "malformed reports change nothing"
    malformed = board.messages.labels("malformed")._value.get()
    assert malformed == 2


def test_a_state_change_goes_out_at_once_not_at_the_next_heartbeat(nats_server: NatsServer) -> None:
    """Heartbeats a minute apart: only the on-change path can bring `reconnecting` to the API side."""
    from jetstream.config import DistributedConfig
    from sharpeyes.distributed.nats_link import NatsLink
    from sharpeyes.distributed.shard_health import HEALTH_ROOT, HealthReporter

    cfg = DistributedConfig(nats_url=nats_server.url)
    state = {"state": "online", "fps_in": 25.0}
    shard_link, api_link = NatsLink(cfg, name="shard"), NatsLink(cfg, name="api")
    board = HealthBoard(lambda cam: 0)
    api_link.start()
    api_link.submit(api_link.subscribe(f"{HEALTH_ROOT}.*", board.on_message)).result(10)
    shard_link.start()
    reporter = HealthReporter(shard_link, 0, lambda: {ON_SHARD_0: dict(state)}, every_s=60.0, poll_s=0.1)
    reporter.start()
    base = CameraStatus.model_validate(
        {
            "id": ON_SHARD_0,
            "name": "东门",
            "grid_id": "G-001",
            "community_id": "C-1",
            "street_id": "S-1",
            "enabled": True,
            "url": "rtsp://x",
            "state": "on_shard",
        }
    )
    try:
        wait_for("first report", lambda: board.row(base).state == "online", 10)
        sent = reporter.sent
        state["fps_in"] = 24.0  # a rate moving is no state change: waits for the heartbeat
        time.sleep(0.5)
        assert reporter.sent == sent
        state["state"] = "reconnecting"
        wait_for("the change on the API side", lambda: board.row(base).state == "reconnecting", 10)
        assert reporter.sent == sent + 1
    finally:
        reporter.stop()
        shard_link.close()
        api_link.close()
