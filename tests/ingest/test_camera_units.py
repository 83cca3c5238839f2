"""Pure parts of ingest, table-driven: redaction, error causes, backoff, video-loss threshold, handoff."""

from __future__ import annotations

import errno
import random
import threading
import time

import numpy as np
import pytest

from ingest import errors
from ingest.backoff import Backoff, RestartLimiter
from ingest.camera_spec import CameraSpec
from ingest.errors import StreamError, classify
from ingest.handoff import LatestFrame
from ingest.health import DownDetector, RateMeter, VideoLossEvent
from ingest.redact import redact_text, redact_url, url_secrets
from ingest.sources import SourceKind, open_target, source_kind
from ingest.types import Frame


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://user:pass@host/x", "rtsp://user:***@host/x"),
        (
            "rtsp://admin:s3cr%40t@10.0.0.5:554/Streaming/Channels/101",
            "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101",
        ),
        ("rtsp://admin:p@ss@cam.example/live", "rtsp://admin:***@cam.example/live"),
        ("rtsp://user@host/x", "rtsp://user@host/x"),
        ("rtsp://host:8554/x", "rtsp://host:8554/x"),
        ("http://cam/mjpg?user=a&password=hunter2&res=hi", "http://cam/mjpg?user=a&password=***&res=hi"),
        ("http://cam/video?token=abc.def", "http://cam/video?token=***"),
        ("/srv/clips/a.mp4", "/srv/clips/a.mp4"),
        ("file:///srv/clips/a.mp4", "file:///srv/clips/a.mp4"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        # What FFmpeg/PyAV errors look like: the URL echoed with its password.
        ("[Errno 111] Connection refused: 'rtsp://admin:hunter2@127.0.0.1:1/x'", "hunter2"),
        (
            "[Errno 5] Input/output error: 'rtsp://admin:hunter2@cam.invalid/x'; last error log: [tcp] x",
            "hunter2",
        ),
        ("Server returned 401 Unauthorized: 'http://u:hunter2@cam/mjpg?password=hunter2'", "hunter2"),
        ("opening rtsp://u:p@ss:w0rd@cam/x failed", "p@ss:w0rd"),
    ],
)
def test_redact_text_masks_passwords_in_decoder_errors(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert "***" in out


def test_redact_text_masks_known_literal_secrets() -> None:
    url = "rtsp://admin:s3cr%40t@cam/x"
    assert set(url_secrets(url)) >= {"s3cr%40t", "s3cr@t"}
    assert "s3cr@t" not in redact_text("auth failed for password s3cr@t", url_secrets(url))


def test_camera_spec_repr_hides_password() -> None:
    spec = CameraSpec("CAM-01", "rtsp://user:hunter2@cam/1", detect_url="rtsp://user:hunter2@cam/2")
    assert "hunter2" not in repr(spec)
    assert "hunter2" not in spec.safe_url


@pytest.mark.parametrize(
    ("url", "kind", "target"),
    [
        ("rtsp://cam/x", SourceKind.RTSP, "rtsp://cam/x"),
        ("rtsps://cam/x", SourceKind.RTSP, "rtsps://cam/x"),
        ("http://cam/mjpg", SourceKind.HTTP, "http://cam/mjpg"),
        ("https://cam/mjpg", SourceKind.HTTP, "https://cam/mjpg"),
        ("file:///srv/a%20b.mp4", SourceKind.FILE, "/srv/a b.mp4"),
        ("/srv/a.mp4", SourceKind.FILE, "/srv/a.mp4"),
        ("clips/a.mp4", SourceKind.FILE, "clips/a.mp4"),
    ],
)
def test_source_kind(url: str, kind: SourceKind, target: str) -> None:
    assert source_kind(url) is kind
    assert open_target(url) == target


@pytest.mark.parametrize("url", ["ftp://cam/x", "udp://239.0.0.1:1234"])
def test_unsupported_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported camera URL scheme"):
        CameraSpec("c", url)


class _AvLike(OSError):
    """Stands in for a PyAV error: an OSError subclass with errno and the URL in its message."""


class HTTPUnauthorizedError(Exception):
    """Same name as PyAV's, which classify recognises by name."""


@pytest.mark.parametrize(
    ("exc", "logs", "reason", "permanent"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            [],
            errors.CONNECTION_REFUSED,
            False,
        ),
        (_AvLike(errno.EHOSTUNREACH, "No route to host"), [], errors.HOST_UNREACHABLE, False),
        (
            _AvLike(errno.EIO, "Input/output error"),
            ["[tcp] Failed to resolve hostname cam.invalid: Name or service not known"],
            errors.HOST_NOT_FOUND,
            False,
        ),
        (
            _AvLike(errno.EIO, "Input/output error"),
            ["[tcp] Connection to tcp://10.9.9.9:554 failed: Network is unreachable"],
            errors.HOST_UNREACHABLE,
            False,
        ),
        (
            ValueError("Invalid data found when processing input"),
            ["[rtsp] method DESCRIBE failed: 404 (Not Found)"],
            errors.NOT_FOUND,
            False,
        ),
        (HTTPUnauthorizedError("Server returned 401 Unauthorized"), [], errors.UNAUTHORIZED, False),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), [], errors.FILE_NOT_FOUND, True),
        (
            ValueError("[Errno 1094995529] Invalid data found when processing input"),
            [],
            errors.NOT_VIDEO,
            True,
        ),
        (TimeoutError("timed out"), [], errors.TIMED_OUT, False),
        (
            StreamError(errors.NO_VIDEO_STREAM, "streams: audio", permanent=True),
            [],
            errors.NO_VIDEO_STREAM,
            True,
        ),
    ],
)
def test_classify(exc: BaseException, logs: list[str], reason: str, permanent: bool) -> None:
    failure = classify(exc, logs)
    assert failure.reason == reason
    assert failure.permanent is permanent
    assert str(failure).startswith(reason)


def test_classify_never_echoes_the_password() -> None:
    url = "rtsp://admin:hunter2@127.0.0.1:1/x"
    exc = ConnectionRefusedError(errno.ECONNREFUSED, f"Connection refused: '{url}'")
    failure = classify(exc, [f"[rtsp] could not open {url}"], url_secrets(url))
    assert "hunter2" not in str(failure)


@pytest.mark.parametrize(
    ("initial", "cap", "factor", "expected"),
    [
        (0.5, 30.0, 2.0, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]),
        (1.0, 5.0, 3.0, [1.0, 3.0, 5.0, 5.0]),
        (2.0, 2.0, 2.0, [2.0, 2.0]),
    ],
)
def test_backoff_grows_and_caps_without_jitter(
    initial: float, cap: float, factor: float, expected: list
) -> None:
    backoff = Backoff(initial, cap, factor, jitter=0.0)
    assert [backoff.next_delay() for _ in expected] == expected
    backoff.reset()
    assert backoff.next_delay() == initial


def test_backoff_jitter_stays_in_band_and_varies() -> None:
    backoff = Backoff(1.0, 8.0, 2.0, jitter=0.25, rng=random.Random(7))
    delays = []
    for base in [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]:
        d = backoff.next_delay()
        assert base * 0.75 <= d <= min(8.0, base * 1.25)
        delays.append(d)
    assert len(set(delays)) == len(delays)


@pytest.mark.parametrize(
    "bad", [dict(initial_s=0), dict(initial_s=2, max_s=1), dict(jitter=1.0), dict(factor=0.5)]
)
def test_backoff_rejects_bad_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**bad)


def test_restart_limiter_holds_after_max_in_window() -> None:
    lim = RestartLimiter(max_restarts=2, window_s=10.0)
    for now in (0.0, 1.0):
        assert lim.delay(now) == 0
        lim.record(now)
    assert lim.delay(2.0) == pytest.approx(8.0)
    assert lim.delay(10.0) == 0


# (time, online) observations → events expected at those times, as (time, down) pairs.
DOWN_SCRIPTS = [
    pytest.param(
        [(0, False), (1, False), (2.9, False), (3, False), (4, False)], 3, 0, [(3, True)], id="down-once"
    ),
    pytest.param([(0, False), (2, True), (3, False), (5, True)], 3, 0, [], id="short-outages-ignored"),
    pytest.param(
        [(0, True), (1, False), (4, False), (5, True), (6, False), (10, False)],
        3,
        0,
        [(4, True), (5, False), (10, True)],
        id="down-up-down",
    ),
    pytest.param(
        [(0, False), (3, False), (4, True), (4.5, False), (5, True), (7, True)],
        3,
        2,
        [(3, True), (7, False)],
        id="up-needs-stable-online",
    ),
    pytest.param([(0, True), (10, True)], 3, 0, [], id="always-online"),
    pytest.param([(0, False), (0, False)], 0, 0, [(0, True)], id="zero-threshold"),
]


@pytest.mark.parametrize(("script", "down_after", "up_after", "expected"), DOWN_SCRIPTS)
def test_down_detector(script: list, down_after: float, up_after: float, expected: list) -> None:
    det = DownDetector("CAM-9", down_after, up_after)
    events: list[VideoLossEvent] = []
    for now, online in script:
        ev = det.update(online, now, None if online else "connection refused")
        if ev is not None:
            events.append(ev)
    assert [(e.at, e.down) for e in events] == expected
    for ev in events:
        assert ev.camera_id == "CAM-9"
        if ev.down:
            assert ev.at - ev.since >= down_after
            assert ev.error == "connection refused"


def _frame(seq: int, mono_ns: int) -> Frame:
    return Frame("c", seq, time.time(), mono_ns, np.zeros((2, 2, 3), np.uint8))


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns


def test_latest_frame_hands_out_only_the_newest() -> None:
    clock = FakeClock()
    slot = LatestFrame(max_age_s=0.5, clock_ns=clock)
    for seq in range(5):
        slot.put(_frame(seq, clock.ns))
    got = slot.get()
    assert got is not None and got.seq == 4
    assert slot.get(newer_than=4) is None  # nothing newer yet
    assert (slot.delivered, slot.dropped) == (1, 0)  # superseded frames are not "dropped"


@pytest.mark.parametrize(
    ("age_s", "fresh"), [(0.0, True), (0.49, True), (0.5, True), (0.51, False), (5.0, False)]
)
def test_latest_frame_drops_stale_and_counts_once(age_s: float, fresh: bool) -> None:
    clock = FakeClock()
    slot = LatestFrame(max_age_s=0.5, clock_ns=clock)
    slot.put(_frame(1, clock.ns))
    clock.ns += int(age_s * 1e9)
    assert (slot.get() is not None) is fresh
    assert slot.dropped == (0 if fresh else 1)


def test_latest_frame_wait_wakes_on_put() -> None:
    slot = LatestFrame(max_age_s=1.0)
    timer = threading.Timer(0.05, lambda: slot.put(_frame(7, time.monotonic_ns())))
    timer.start()
    t0 = time.monotonic()
    got = slot.get(newer_than=6, timeout=2.0)
    assert got is not None and got.seq == 7
    assert time.monotonic() - t0 < 1.0
    assert slot.get(newer_than=7, timeout=0.05) is None


def test_rate_meter() -> None:
    meter = RateMeter(window_s=2.0)
    for i in range(61):
        meter.mark(100 + i / 30)
    assert meter.rate(102.0) == pytest.approx(30, rel=0.05)
    assert meter.rate(110.0) == 0.0
