"""The video path end to end with real parts: a GStreamer RTSP server on loopback serving the shared clips,
the service as a process (real SQLite, real mosquitto), the signed-webhook receiver, and the HTTP API.

One service runs for the whole module (starting it and loading the models costs seconds on two cores);
each test looks at its own cameras:

- FIRE-ROOM, FIRE-AERIAL (fire clips) and MARKET, CROSS (people clips) watch for fire and smoke;
- CROSS (grid G-002, street S-2) also has a crowd zone: YOLOX-Nano counts 6–11 people in the clip's
  first 15 s at 5 fps (measured), so a threshold of 7 is crossed both ways many times;
- VL reads a private RTSP server the video-loss test stops and restarts;
- NO-SUCH-PATH, GARBAGE (random bytes as .mp4) and DEAD-HOST never work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from ingest import errors
from sharpeyes.receiver import DispatchReceiver
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.rtsp import RtspServer, default_mounts, require_gstreamer, wait_for
from tests.support.service import SECRET, TOKEN, Service, write_config

PASSWORD = "cam-Pa55word-xyz"
S2_TOKEN = "test-street-2-token"
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "open_timeout_s": 3.0, "stall_s": 2.0}
FIRE_RULES = [
    {"kind": "fire", "confirm_k": 2, "confirm_n": 4},
    {"kind": "smoke", "confirm_k": 3, "confirm_n": 5},
]


class VideoService(Service):
    def env(self) -> dict[str, str]:
        return {**super().env(), "TEST_S2_TOKEN": S2_TOKEN, "CAM_PASSWORD": PASSWORD}


class Rig:
    def __init__(self, svc: VideoService, rtsp: RtspServer, vl: RtspServer, receiver: DispatchReceiver):
        self.svc, self.rtsp, self.vl, self.receiver = svc, rtsp, vl, receiver
        self.ready_at = time.time()

    def incidents(self, **params: Any) -> list[dict[str, Any]]:
        return self.svc.get("/api/incidents", limit=1000, **params).json()["items"]

    def of(self, camera: str, category: str) -> list[dict[str, Any]]:
        return [i for i in self.incidents(category=category) if i["source_id"] == camera]

    def cameras(self, token: str = TOKEN) -> dict[str, dict[str, Any]]:
        r = httpx.get(
            f"{self.svc.base}/api/cameras", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        r.raise_for_status()
        return {c["id"]: c for c in r.json()["items"]}

    def wait_seconds_since_ready(self, seconds: float) -> None:
        time.sleep(max(0.0, self.ready_at + seconds - time.time()))


def _camera(cid: str, url: str, grid: str = "G-001", **extra: Any) -> dict[str, Any]:
    return {"id": cid, "url": url, "grid": grid, **FAST, **extra}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Iterator[Rig]:
    require_gstreamer()
    tmp = tmp_path_factory.mktemp("video")
    garbage = tmp / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(7).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    broker = Mosquitto(tmp / "mosquitto").start()
    receiver = DispatchReceiver(SECRET).start()
    rtsp = RtspServer(default_mounts(assets)).start()
    vl = RtspServer({"market": assets / "video" / "market_street_1906_pd.mp4"}).start()
    cameras = [
        _camera("FIRE-ROOM", rtsp.url("fire_room_getty"), rules=FIRE_RULES),
        _camera("FIRE-AERIAL", rtsp.url("fire_aerial_wildfire"), rules=FIRE_RULES),
        _camera("MARKET", rtsp.url("market_street_1906_pd"), rules=FIRE_RULES),
        _camera(
            "CROSS",
            rtsp.url("crosswalk_pedestrians", user="viewer", password="${CAM_PASSWORD}"),
            "G-002",
            zones=[{"name": "crossing", "polygon": [[0, 100], [640, 100], [640, 360], [0, 360]]}],
            rules=[
                *FIRE_RULES,
                {"kind": "crowd", "zone": "crossing", "threshold": 7, "dwell_s": 1, "clear_dwell_s": 2},
            ],
        ),
        _camera("VL", vl.url("market"), down_after_s=1.5),
        _camera(
            "NO-SUCH-PATH",
            rtsp.url("no_such_path", user="admin", password="${CAM_PASSWORD}"),
            rules=FIRE_RULES,
        ),
        _camera("GARBAGE", f"file://{garbage}", rules=FIRE_RULES),
        _camera(
            "DEAD-HOST", f"rtsp://admin:${{CAM_PASSWORD}}@127.0.0.1:{free_port()}/live", rules=FIRE_RULES
        ),
    ]
    for cam in cameras:
        cam.setdefault("down_after_s", 3.0)
    auth = {
        "api_tokens": [
            {"name": "admin", "token_env": "TEST_ADMIN_TOKEN", "role": "admin"},
            {"name": "street-2", "token_env": "TEST_S2_TOKEN", "role": "operator", "streets": ["S-2"]},
        ]
    }
    cfg_path = tmp / "video.yaml"
    cfg = write_config(
        cfg_path,
        mqtt_port=broker.port,
        webhook_url=receiver.url,
        db=tmp / "se.db",
        extra={"cameras": cameras, "auth": auth, "log_level": "INFO"},
    )
    svc = VideoService(cfg_path, cfg, tmp / "service.log")
    try:
        svc.start(timeout=60)
        yield Rig(svc, rtsp, vl, receiver)
        code = svc.stop()
        assert code == 0, f"service exit code {code}:\n{svc.log.read_text()[-3000:]}"
    finally:
        svc.kill9()
        for part in (vl, rtsp, receiver, broker):
            part.stop()


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_fire_clips_raise_fire_within_seconds_and_people_clips_do_not(rig: Rig) -> None:
    for camera in ("FIRE-ROOM", "FIRE-AERIAL"):
        assert wait_for(lambda c=camera: rig.of(c, "fire"), 20, 0.2), rig.cameras()[camera]
        [fire] = rig.of(camera, "fire")
        delay = _ts(fire["created_at"]) - rig.ready_at
        print(f"{camera}: fire incident {delay:.2f} s after the service was ready")
        assert delay < 10, f"{camera}: fire after {delay:.1f} s"
        assert (fire["category"], fire["priority"], fire["grid_id"], fire["street_id"]) == (
            "fire",
            1,
            "G-001",
            "S-1",
        )
        ev = fire["evidence"]
        assert ev["rule"] == "fire" and ev["level"] in ("suspected", "confirmed") and ev["confidence"] > 0
        assert ev["snapshot"].startswith(f"{camera}/") and ev["cameras"] == [camera]
    # Confirmation (2 of the last 4 analysed frames) updates the same incident.
    assert wait_for(lambda: rig.of("FIRE-ROOM", "fire")[0]["evidence"]["level"] == "confirmed", 10, 0.2)
    room = rig.svc.get(f"/api/incidents/{rig.of('FIRE-ROOM', 'fire')[0]['id']}").json()
    assert {"snapshot_suspected", "snapshot_confirmed"} <= set(room["evidence"])
    assert [e["action"] for e in room["timeline"]][:2] == ["created", "confirmed"]
    assert room["certainty"] == "Observed"

    # Dispatch (min_level confirmed by default) heard of the fire only when it was confirmed, as created.
    def room_fire(r: dict[str, Any]) -> list[dict[str, Any]]:
        bodies = [x.body for x in r.values() if x.body["data"]["id"] == room["id"]]
        return sorted(bodies, key=lambda b: b["data"]["version"])

    assert rig.receiver.wait_for(room_fire, 15), "no fire webhook"
    first = room_fire(rig.receiver.received)[0]
    assert (first["type"], first["data"]["change"]["action"]) == ("incident.created", "confirmed")
    assert first["data"]["certainty"] == "Observed" and first["data"]["version"] == 2
    assert rig.receiver.bad_signatures == 0

    rig.wait_seconds_since_ready(12)  # the people clips have been analysed for at least ~10 s
    for camera in ("MARKET", "CROSS"):
        assert rig.of(camera, "fire") == [] and rig.of(camera, "smoke") == []
        assert rig.cameras()[camera]["analysed_frames"] >= 20


def test_crowd_zone_raises_exactly_one_incident_despite_fluctuation(rig: Rig) -> None:
    assert wait_for(lambda: rig.of("CROSS", "crowd"), 20, 0.2), rig.cameras()["CROSS"]
    rig.wait_seconds_since_ready(15)  # counts keep crossing 7 both ways meanwhile
    [crowd] = rig.of("CROSS", "crowd")
    assert crowd["trigger_count"] == 1, crowd
    assert (crowd["grid_id"], crowd["street_id"], crowd["priority"]) == ("G-002", "S-2", 2)
    ev = crowd["evidence"]
    assert ev["level"] == "confirmed" and ev["zone"] == "crossing" and ev["count"] >= 7
    assert ev["rule"] == "crowd@crossing" and ev["threshold"] == 7


def test_video_loss_when_the_server_stops_and_cleared_when_it_returns(rig: Rig) -> None:
    assert wait_for(lambda: rig.cameras()["VL"]["state"] == "online", 20, 0.2), rig.cameras()["VL"]
    frames = rig.cameras()["FIRE-ROOM"]["frames"]
    rig.vl.stop()  # the camera loses power
    try:
        assert wait_for(lambda: rig.of("VL", "video_loss"), 15, 0.2), rig.cameras()["VL"]
        [lost] = rig.of("VL", "video_loss")
        assert lost["state"] == "reported" and lost["evidence"]["error"]
        assert rig.cameras()["VL"]["video_loss"] is True
    finally:
        rig.vl.start()  # same port: the camera is back
    assert wait_for(lambda: rig.of("VL", "video_loss")[0]["state"] == "closed", 20, 0.2), rig.cameras()["VL"]
    closed = rig.svc.get(f"/api/incidents/{lost['id']}").json()
    assert closed["timeline"][-1]["action"] == "auto_close"
    assert rig.cameras()["VL"]["video_loss"] is False
    assert rig.cameras()["FIRE-ROOM"]["frames"] > frames + 50, "the other cameras kept running"


def test_broken_url_garbage_and_dead_host_are_clear_errors_while_others_run(rig: Rig) -> None:
    def settled() -> bool:
        cams = rig.cameras()
        return all(cams[c]["reconnects"] >= 1 for c in ("NO-SUCH-PATH", "GARBAGE", "DEAD-HOST"))

    assert wait_for(settled, 20, 0.2), rig.cameras()
    cams = rig.cameras()
    assert cams["NO-SUCH-PATH"]["last_error"].startswith(errors.NOT_FOUND)
    assert cams["GARBAGE"]["last_error"].startswith(errors.NOT_VIDEO)
    assert cams["DEAD-HOST"]["last_error"].startswith(errors.CONNECTION_REFUSED)
    for camera in ("FIRE-ROOM", "MARKET", "CROSS"):
        assert cams[camera]["state"] == "online" and cams[camera]["fps_in"] > 10, cams[camera]
        assert cams[camera]["fps_out"] > 2 and cams[camera]["error"] is None
    assert cams["DEAD-HOST"]["url"].startswith("rtsp://admin:***@127.0.0.1:")
    assert wait_for(lambda: rig.of("DEAD-HOST", "video_loss"), 10, 0.2), "a camera that never works is lost"
    # The password never leaves the process: not in the API, the metrics or the log.
    for text in (
        httpx.get(f"{rig.svc.base}/api/cameras", headers=rig.svc.headers()).text,
        rig.svc.get("/metrics").text,
        rig.svc.get("/api/incidents").text,
        rig.svc.log.read_text(),
    ):
        assert PASSWORD not in text


def test_snapshot_is_a_jpeg_for_authorised_callers_only(rig: Rig) -> None:
    assert wait_for(lambda: rig.of("FIRE-ROOM", "fire"), 20, 0.2)
    fire = rig.of("FIRE-ROOM", "fire")[0]
    url = f"{rig.svc.base}/api/incidents/{fire['id']}/snapshot"
    r = httpx.get(url, headers=rig.svc.headers())
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (432, 768, 3)  # fire_room_getty's size: the full frame, boxes drawn on it
    named = httpx.get(
        f"{rig.svc.base}/api/snapshots/{fire['evidence']['snapshot']}", headers=rig.svc.headers()
    )
    assert named.content == r.content

    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    street2 = {"Authorization": f"Bearer {S2_TOKEN}"}  # FIRE-ROOM is on street S-1
    assert httpx.get(url, headers=street2).status_code == 404
    for bad in ("FIRE-ROOM/..%2F..%2Fse.db", "..%2Fse.db/x.jpg", "FIRE-ROOM/nothing.jpg"):
        assert httpx.get(f"{rig.svc.base}/api/snapshots/{bad}", headers=rig.svc.headers()).status_code == 404


def test_cameras_are_scoped_and_have_metrics(rig: Rig) -> None:
    assert set(rig.cameras(S2_TOKEN)) == {"CROSS"}
    assert len(rig.cameras()) == 8
    cross = rig.cameras()["CROSS"]
    assert cross["url"] == f"rtsp://viewer:***@127.0.0.1:{rig.rtsp.port}/crosswalk_pedestrians"
    assert set(cross["detectors"]) == {"fire", "people"}
    assert all(d["running"] and d["error"] is None for d in cross["detectors"].values())
    assert httpx.get(f"{rig.svc.base}/api/cameras").status_code == 401
    metrics = rig.svc.get("/metrics").text
    for line in (
        'sharpeyes_camera_fps{camera="FIRE-ROOM"}',
        'sharpeyes_camera_state{camera="FIRE-ROOM"} 2.0',
        'sharpeyes_video_gate_frames_total{camera="CROSS",reason="first"} 1.0',
        'sharpeyes_detector_frames_processed_total{detector="people"}',
        'sharpeyes_capture_to_observation_seconds_count{kind="fire"}',
    ):
        assert line in metrics, line
