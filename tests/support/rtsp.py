"""A real GStreamer RTSP server on a free loopback port, as a subprocess of Debian's ``/usr/bin/python3``.

``RtspServer`` starts ``tests/support/rtsp_server.py`` (H.264 MP4s served without re-encoding, looping), waits
for its ``READY`` line, and can be stopped (killed, like a camera losing power) and restarted on the same
port.
A missing GStreamer is a test failure with the install line, never a skip: the test command installs it.

The lead's ``tests/conftest.py`` can expose the fixtures with ``from tests.support.rtsp import rtsp_server``.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.ports import free_port, wait_port

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
GST_PYTHON = os.environ.get("SHARPEYES_GST_PYTHON", "/usr/bin/python3")
APT_PACKAGES = (
    "python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-tools "
    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
INSTALL_HINT = f"apt-get install -y {APT_PACKAGES}"
_PROBE = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
    "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
    "missing = [e for e in ('qtdemux', 'h264parse', 'rtph264pay', 'queue', 'filesrc') "
    "if Gst.ElementFactory.find(e) is None]; print(' '.join(missing))"
)


def gstreamer_problem() -> str | None:
    """Why the RTSP server cannot run here, or ``None`` when it can."""
    if not Path(GST_PYTHON).exists():
        return f"{GST_PYTHON} not found (Debian's python3 runs the GStreamer RTSP server)"
    try:
        out = subprocess.run([GST_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {GST_PYTHON}: {exc}"
    if out.returncode != 0:
        return f"GStreamer RTSP server not importable by {GST_PYTHON}: {out.stderr.strip().splitlines()[-1:]}"
    if out.stdout.strip():
        return f"GStreamer elements missing: {out.stdout.strip()}"
    return None


def require_gstreamer() -> None:
    """Fail (not skip) the calling test when GStreamer is missing."""
    problem = gstreamer_problem()
    if problem:
        pytest.fail(f"RTSP tests need Debian's GStreamer RTSP server: {problem}. Install: {INSTALL_HINT}")


class RtspServer:
    """``mounts`` maps a path name to an MP4 file: ``rtsp://127.0.0.1:PORT/<name>``."""

    def __init__(
        self,
        mounts: Mapping[str, Path | str],
        *,
        port: int | None = None,
        loop: bool = True,
        shared: bool = False,
    ) -> None:
        self.mounts = {name.strip("/"): Path(path) for name, path in mounts.items()}
        for path in self.mounts.values():
            if not path.is_file():
                raise FileNotFoundError(path)
        self.port = port or free_port()
        self.loop = loop
        self.shared = shared
        self.proc: subprocess.Popen[str] | None = None

    def url(self, name: str, *, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user and password else (f"{user}@" if user else "")
        return f"rtsp://{auth}127.0.0.1:{self.port}/{name}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 20.0) -> RtspServer:
        cmd = [GST_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        for name, path in self.mounts.items():
            cmd += ["--mount", f"{name}={path}"]
        cmd += [] if self.loop else ["--no-loop"]
        cmd += ["--shared"] if self.shared else []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._wait_ready(timeout)
        wait_port(self.port, timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if sel.select(timeout=0.1):
                    line = self.proc.stdout.readline()
                    if line.startswith("READY"):
                        return
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise RuntimeError(
                        f"RTSP server exited ({self.proc.returncode}): {err.strip()}. {INSTALL_HINT}"
                    )
        self.stop()
        raise TimeoutError(f"RTSP server not ready after {timeout} s")

    def stop(self, *, kill: bool = True) -> None:
        """Kill (default: a camera losing power, connections drop at once) or terminate the server."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.proc = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but no data flows, as with a hung camera."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self, timeout: float = 20.0) -> RtspServer:
        """Stop and start again on the same port (clients see the camera come back)."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def short_clip(src: Path, dst: Path, seconds: float) -> Path:
    """Copy the first GOPs of an H.264 MP4 (at most ``seconds``, cut at a keyframe) without re-encoding."""
    import av  # the venv's PyAV; this module is also imported where only the fixtures are wanted

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            if packet.is_keyframe and packet.pts is not None and float(packet.pts * vin.time_base) >= seconds:
                break
            packet.stream = vout
            out.mux(packet)
    return dst


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; returns the last verdict."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _assets() -> Path:
    path = Path(
        os.environ.get("SHARPEYES_ASSETS", Path(__file__).resolve().parents[2].parent / "shared" / "assets")
    )
    assert path.is_dir(), f"shared assets not found at {path}: set SHARPEYES_ASSETS"
    return path


def default_mounts(assets: Path | None = None) -> dict[str, Path]:
    """Every shared clip, by stem: ``market_street_1906_pd``, ``crosswalk_pedestrians``, ``fire_…``."""
    video = (assets or _assets()) / "video"
    return {p.stem: p for p in sorted(video.glob("*.mp4"))}


@pytest.fixture(scope="session")
def rtsp_server_session() -> Iterator[RtspServer]:
    """One looping server with all shared clips for the whole session; each client gets its own pipeline.

    Do not stop it in a test; use ``rtsp_server`` for that.
    """
    require_gstreamer()
    with RtspServer(default_mounts()) as server:
        yield server


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    """A private looping server with all shared clips, which the test may stop and restart."""
    require_gstreamer()
    server = RtspServer(default_mounts()).start()
    yield server
    server.stop()
