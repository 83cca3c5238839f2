"""Live video in the operator page with real parts: the GStreamer RTSP test server, the service process,
mosquitto and Debian's Chromium. Frames decoded are counted in the page (getVideoPlaybackQuality)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from alarms.storage.store import Store
from dashboard.users import UserStore
from tests.e2e.conftest import GRIDS, PASSWORD, USERS
from tests.support.browser import sign_in
from tests.support.buttons import ButtonSim
from tests.support.clips import baseline_clip
from tests.support.mosquitto import Mosquitto
from tests.support.rtsp import RtspServer, require_gstreamer
from tests.support.service import TOKEN, Service, write_config

FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "open_timeout_s": 3.0, "stall_s": 3.0}
FRAMES = (
    "(sel) => { const v = document.querySelector(sel);"
    " return v ? v.getVideoPlaybackQuality().totalVideoFrames : -1; }"
)
MORE_THAN = (  # a function, not an expression: the page's CSP forbids eval
    "([sel, n]) => { const v = document.querySelector(sel);"
    " return !!v && v.getVideoPlaybackQuality().totalVideoFrames > n; }"
)
WALL_PLAYING = (
    "() => { const vs = [...document.querySelectorAll('#wall-grid video')];"
    " return vs.length === 2 && vs.every(v => v.getVideoPlaybackQuality().totalVideoFrames > 0); }"
)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Iterator[tuple[Service, Mosquitto]]:
    require_gstreamer()
    tmp = tmp_path_factory.mktemp("live")
    mounts = {
        "cross": assets / "video" / "crosswalk_pedestrians.mp4",
        "plain": baseline_clip(tmp / "plain.mp4"),
    }
    rtsp = RtspServer(mounts).start()
    broker = Mosquitto(tmp / "mosquitto").start()
    db = tmp / "se.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    for name, role, streets in USERS:
        UserStore(store).add(name, PASSWORD, role, streets=streets)
    store.close()
    cameras = [  # no rules: no detector load on two cores; the live view needs none
        {
            "id": "CAM-X",
            "url": rtsp.url("cross", user="viewer", password="Secr3t-cam"),
            "grid": "G-001",
            **FAST,
        },
        {"id": "CAM-P", "url": rtsp.url("plain"), "grid": "G-001", **FAST},
        {"id": "CAM-S2", "url": rtsp.url("plain"), "grid": "G-002", **FAST},
    ]
    buttons = [
        {"id": "B-001", "grid": "G-001", "cameras": ["CAM-X"]},
        {"id": "B-003", "grid": "G-001", "cameras": ["CAM-X"]},
        {"id": "B-005", "grid": "G-001", "cameras": ["CAM-P"]},
    ]
    cfg = write_config(
        tmp / "svc.yaml",
        mqtt_port=broker.port,
        webhook_url="http://127.0.0.1:9/hook",
        db=db,
        extra={"grids": GRIDS, "cameras": cameras, "buttons": buttons},
    )
    svc = Service(tmp / "svc.yaml", cfg, tmp / "svc.log").start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the camera readers are up: MJPEG has frames to send
            items = svc.get("/api/cameras").json()["items"]
            if all(c["state"] == "online" for c in items):
                break
            time.sleep(0.2)
        yield svc, broker
    finally:
        svc.stop()
        broker.stop()
        rtsp.stop()
        assert "Secr3t-cam" not in (tmp / "svc.log").read_text()


def shots(svc: Service) -> Path:
    """SHARPEYES_SCREENSHOTS=docs/screenshots refreshes the README's pictures."""
    out = Path(os.environ.get("SHARPEYES_SCREENSHOTS") or svc.log.parent / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def poll(page: Page, js: str, arg: object = None, timeout: float = 3.0, every: float = 0.02) -> None:
    """Python-side polling with page.evaluate: wait_for_function would need eval, which the CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(js, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {js} {arg!r}")
        time.sleep(every)


def _incident_video(page: Page, button: ButtonSim, button_id: str, seq: int, camera: str) -> float:
    """Press, then seconds until the linked camera's video has decoded a frame in the page."""
    pressed = time.monotonic()
    button.send(button_id, seq=seq)
    poll(page, MORE_THAN, [f"#linked-video .live-tile[data-camera='{camera}'] video", 0], timeout=3.0)
    return time.monotonic() - pressed


def test_button_incident_opens_linked_camera_video_playing_within_3_s(rig, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    svc, broker = rig
    page = sign_in(browser, svc.base, "wang", PASSWORD)
    button = ButtonSim(broker.port, client_id="e2e-live")
    try:
        took = _incident_video(
            page, button, "B-001", seq=1, camera="CAM-X"
        )  # B-frame camera: one shared re-encode
        assert took < 3.0
        tile = page.locator("#linked-video .live-tile[data-camera='CAM-X']")
        # the first frame can beat the tile's bookkeeping of its mode by a moment on a loaded machine
        deadline = time.monotonic() + 2.0
        while tile.get_attribute("data-mode") != "webrtc" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tile.get_attribute("data-mode") == "webrtc"
        frames = page.evaluate(FRAMES, "#linked-video video")
        poll(page, MORE_THAN, ["#linked-video video", frames + 10], timeout=3.0)  # and it plays on
        page.screenshot(path=str(shots(svc) / "incident-live-video.png"))

        took = _incident_video(
            page, button, "B-005", seq=2, camera="CAM-P"
        )  # B-frame-free camera: H.264 passed through
        assert took < 3.0
        live = httpx.get(f"{svc.base}/api/live", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert live["sources"]["CAM-P"]["transcoding"] is False
        assert live["sources"]["CAM-X"]["transcoding"] is True
        assert "Secr3t-cam" not in str(live)
        # Leaving the incident closes its peer connection on the server at once.
        page.locator("#queue tr.incident").first.click()
        poll(page, "() => window.__sharpeyes.live.closed >= window.__sharpeyes.live.views - 1")
    finally:
        button.close()
        page.context.close()


def test_mjpeg_fallback_when_webrtc_is_blocked(rig, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    svc, broker = rig
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.add_init_script("delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;")
    page = context.new_page()
    page.goto(f"{svc.base}/login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#live-status[data-state='live']")
    button = ButtonSim(broker.port, client_id="e2e-mjpeg")
    try:
        button.send("B-003", seq=1)
        page.wait_for_selector("#linked-video .live-tile[data-mode='mjpeg']", timeout=3000)
        poll(
            page,
            "() => { const i = document.querySelector('#linked-video .live-tile img');"
            " return !!i && i.naturalWidth > 0 && Number(i.closest('.live-tile').dataset.frames || 0) > 0; }",
            timeout=5.0,
        )
    finally:
        button.close()
        context.close()


def test_camera_wall_by_street_with_health_badges(rig, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    svc, _ = rig
    page = sign_in(browser, svc.base, "wang", PASSWORD, lang="en")
    try:
        page.click("nav.tabs [data-view='wall']")
        page.select_option("#wall-choice", "street:S-1")
        poll(page, WALL_PLAYING, timeout=8.0)
        page.wait_for_selector("#wall-grid .live-badge.health-online", timeout=5000)
        assert "fps" in page.inner_text("#wall-grid .live-badge")
        assert page.locator("#wall-grid .live-tile[data-camera='CAM-S2']").count() == 0
        time.sleep(1.0)  # a second of video in the picture
        page.screenshot(path=str(shots(svc) / "camera-wall.png"))
    finally:
        page.context.close()
