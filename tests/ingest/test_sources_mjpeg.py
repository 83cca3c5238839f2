"""HTTP MJPEG cameras against a real multipart HTTP server on loopback (Basic auth, 404, frame rate)."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import pytest

from ingest import errors
from ingest.camera_spec import CameraSpec
from ingest.manager import CameraManager
from ingest.types import StreamHealth, StreamState
from tests.support.ports import free_port
from tests.support.rtsp import wait_for

FPS = 10.0
USER, PASSWORD = "admin", "mjpeg-Pa55"


def _jpegs(clip: Path, n: int = 20) -> list[bytes]:
    out = []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            out.append(cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"))[1].tobytes())
            if len(out) == n:
                break
    return out


def _handler(jpegs: list[bytes]) -> type[http.server.BaseHTTPRequestHandler]:
    expected_auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class MjpegHandler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/private" and self.headers.get("Authorization") != expected_auth:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="cam"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path not in ("/mjpeg", "/private"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            t0 = time.monotonic()
            try:
                for i in range(10**9):
                    jpg = jpegs[i % len(jpegs)]
                    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpg)}\r\n\r\n"
                    self.wfile.write(head.encode() + jpg + b"\r\n")
                    time.sleep(max(0.0, t0 + (i + 1) / FPS - time.monotonic()))
            except (BrokenPipeError, ConnectionResetError):
                pass

    return MjpegHandler


@pytest.fixture(scope="module")
def mjpeg(assets: Path) -> Iterator[CameraManager]:
    port = free_port()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), _handler(_jpegs(assets / "video" / "crosswalk_pedestrians.mp4"))
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"127.0.0.1:{port}"
    specs = [
        CameraSpec("OPEN", f"http://{base}/mjpeg"),
        CameraSpec("AUTH", f"http://{USER}:{PASSWORD}@{base}/private"),
        CameraSpec("WRONG-PW", f"http://{USER}:not-{PASSWORD}@{base}/private"),
        CameraSpec("NO-PATH", f"http://{USER}:{PASSWORD}@{base}/nope"),
    ]
    with CameraManager(specs) as manager:
        yield manager
    server.shutdown()
    server.server_close()


def _health(manager: CameraManager, camera_id: str) -> StreamHealth:
    return next(h for h in manager.health() if h.camera_id == camera_id)


@pytest.mark.parametrize("camera_id", ["OPEN", "AUTH"])
def test_mjpeg_camera_streams_at_source_rate(mjpeg: CameraManager, camera_id: str) -> None:
    assert wait_for(lambda: _health(mjpeg, camera_id).state is StreamState.ONLINE, 10), _health(
        mjpeg, camera_id
    )
    frame = mjpeg.latest(camera_id, timeout=1.0)
    assert frame is not None and frame.image.shape == (360, 640, 3)
    start = _health(mjpeg, camera_id).frames
    time.sleep(2.0)
    assert (_health(mjpeg, camera_id).frames - start) / 2.0 == pytest.approx(FPS, rel=0.25)


@pytest.mark.parametrize(
    ("camera_id", "reason"), [("WRONG-PW", errors.UNAUTHORIZED), ("NO-PATH", errors.NOT_FOUND)]
)
def test_mjpeg_errors_are_clear_and_credential_free(
    mjpeg: CameraManager, camera_id: str, reason: str
) -> None:
    assert wait_for(lambda: _health(mjpeg, camera_id).error is not None, 10)
    health = _health(mjpeg, camera_id)
    assert health.error.startswith(reason), health.error
    assert PASSWORD not in repr(health)
    assert health.state in (StreamState.RECONNECTING, StreamState.OFFLINE)
