"""Evidence clips from the packet ring: remuxed MP4 that plays (B-frames kept, index first), the window,
re-triggers and storms sharing a clip, and what real cameras and disks do."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ingest.packet_ring import PacketRing
from tests.support.h264_packets import Camera, Clock, make_h264, probe
from video.clip_config import ClipsConfig
from video.clip_recorder import ClipRecorder, ClipRequest
from video.clip_store import ClipStore

CAM = "CAM-01"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "b": make_h264(d / "b.mp4", 40.0),
        "big": make_h264(d / "big.mp4", 10.0, size=(192, 128)),
    }


class Rig:
    def __init__(self, root: Path, **cfg: Any) -> None:
        self.clock = Clock()
        self.attached: list[tuple[int, dict[str, Any]]] = []
        self.registry = CollectorRegistry()
        self.rec = ClipRecorder(
            ClipsConfig(**cfg),
            ClipStore(root),
            self.registry,
            attach=lambda i, e: self.attached.append((i, e)),
            clock=self.clock,
        )
        self.ring: PacketRing = self.rec.tap(CAM)
        self.ring.clock = self.clock

    def ask(
        self, incident: int, at: float, category: str = "fire", pre: float = 10, post: float = 20
    ) -> None:
        self.rec.request(ClipRequest(incident, category, CAM, at, pre, post))
        self.rec.run_once()

    def play(self, camera: Camera, seconds: float) -> None:
        """Feed in steps of a second, with the clip thread running in between (as it polls)."""
        for _ in range(round(seconds)):
            camera.run(1)
            self.rec.run_once()

    def settle(self) -> None:
        self.clock.now += 1.5
        self.rec.run_once()

    def counter(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_clip_covers_pre_and_post_and_plays(tmp_path: Path, media: dict[str, Path]) -> None:
    rig = Rig(tmp_path)
    cam = Camera(rig.ring, rig.clock, media["b"])
    rig.play(cam, 15)
    at = rig.clock.now
    rig.ask(7, at)
    rig.play(cam, 22)
    rig.settle()
    [(incident, entry)] = rig.attached
    assert incident == 7 and entry["status"] == "saved"
    path = rig.rec.store.resolve(entry["id"])
    assert path is not None and entry["size"] == path.stat().st_size and entry["sha256"] == _sha(path)
    assert at - 11.1 <= entry["start"] <= at - 10 and at + 19.5 <= entry["end"] <= at + 20.01
    frames, duration, bframes = probe(path)
    assert abs(duration - (entry["end"] - entry["start"])) < 0.3 and frames >= 29 * 25 and bframes
    head = path.read_bytes()[:64]
    assert b"moov" in head  # faststart: the index before the media, so the browser seeks at once
    assert entry["url"] == f"/api/clips/{entry['id']}" and entry["triggers"] == [round(at, 3)]


def test_retrigger_extends_and_a_storm_shares_one_clip(tmp_path: Path, media: dict[str, Path]) -> None:
    rig = Rig(tmp_path)
    cam = Camera(rig.ring, rig.clock, media["b"])
    rig.play(cam, 12)
    first = rig.clock.now
    rig.ask(1, first, "fire")
    rig.play(cam, 5)
    rig.ask(1, rig.clock.now, "fire")  # the same fire again: the clip runs on
    rig.ask(2, rig.clock.now, "smoke")  # smoke on the same camera: the same clip
    last = rig.clock.now
    rig.ask(3, last, "sos", pre=30, post=30)  # an SOS wants 30 s before: rewritten from the buffer
    rig.play(cam, 32)
    rig.settle()
    ids = {e["id"] for _, e in rig.attached}
    assert len(ids) == 1 and sorted(i for i, _ in rig.attached) == [1, 2, 3]
    entry = rig.attached[0][1]
    assert entry["end"] >= last + 29.5 and len(entry["triggers"]) == 4
    assert entry["start"] <= first - 10  # as far back as the buffer held
    assert rig.counter("sharpeyes_clips_shared_total") == 3
    assert rig.counter("sharpeyes_clips_written_total", outcome="saved") == 1


def test_camera_drop_inside_the_window_is_reported(tmp_path: Path, media: dict[str, Path]) -> None:
    rig = Rig(tmp_path)
    cam = Camera(rig.ring, rig.clock, media["b"])
    rig.play(cam, 12)
    at = rig.clock.now
    rig.ask(5, at)
    rig.play(cam, 4)
    rig.ring.end("no data for 10 s")
    down = rig.clock.now
    rig.clock.now += 6
    rig.rec.run_once()
    cam = Camera(rig.ring, rig.clock, media["b"])  # reconnected: a new connection from its keyframe
    rig.play(cam, 12)
    rig.settle()
    [(_, entry)] = rig.attached
    gaps = [m for m in entry["missing"] if m["reason"] == "no data for 10 s"]
    assert gaps and abs(gaps[0]["from"] - down) < 0.1 and abs(gaps[0]["to"] - (down + 6)) < 0.1
    path = rig.rec.store.resolve(entry["id"])
    assert path is not None
    frames, duration, _ = probe(path)
    assert abs(duration - (entry["end"] - entry["start"])) < 0.5  # the gap stays a gap in the timeline
    assert frames < duration * 25 - 100


def test_camera_down_at_the_alarm_says_so(tmp_path: Path, media: dict[str, Path]) -> None:
    rig = Rig(tmp_path)
    rig.ring.end("connection refused")
    at = rig.clock.now
    rig.ask(9, at, "sos", pre=30, post=30)
    rig.clock.now += 31.5
    rig.rec.run_once()
    [(_, entry)] = rig.attached
    assert entry["status"] == "missing" and entry["id"] is None
    assert {m["reason"] for m in entry["missing"]} >= {"camera_down", "connection refused"}
    assert rig.counter("sharpeyes_clips_written_total", outcome="nothing_to_show") == 1


def test_resolution_change_starts_a_second_part(tmp_path: Path, media: dict[str, Path]) -> None:
    rig = Rig(tmp_path)
    cam = Camera(rig.ring, rig.clock, media["b"])
    rig.play(cam, 12)
    rig.ask(4, rig.clock.now)
    rig.play(cam, 5)
    rig.ring.end("stream ended")
    big = Camera(rig.ring, rig.clock, media["big"])
    rig.play(big, 16)
    rig.settle()
    entries = [e for _, e in rig.attached]
    assert len(entries) == 2 and {(e["width"], e["height"]) for e in entries} == {(160, 96), (192, 128)}
    assert entries[1]["id"].endswith("-p2")
    assert any(m["reason"] == "format_changed" for m in entries[0]["missing"])
    for e in entries:
        path = rig.rec.store.resolve(e["id"])
        assert path is not None and probe(path)[0] > 25


def test_timestamp_jump_keeps_the_clip_playable(tmp_path: Path, media: dict[str, Path]) -> None:
    rig = Rig(tmp_path)
    cam = Camera(rig.ring, rig.clock, media["b"])
    rig.play(cam, 12)
    rig.ask(6, rig.clock.now)
    rig.play(cam, 5)
    jumped = cam._packets

    def shifted():  # type: ignore[no-untyped-def]
        for p in jumped:
            p.pts, p.dts = p.pts - 10**9, (p.dts or 0) - 10**9  # the camera's clock runs backwards
            yield p

    cam._packets = shifted()
    rig.play(cam, 16)
    rig.settle()
    [(_, entry)] = rig.attached
    path = rig.rec.store.resolve(entry["id"])
    assert path is not None
    frames, duration, _ = probe(path)
    assert abs(duration - 30) < 1.2 and frames > 29 * 25


def test_unwritable_storage_fails_the_clip_not_the_caller(tmp_path: Path, media: dict[str, Path]) -> None:
    blocker = tmp_path / "clips"
    blocker.write_text("a file where the folder should be")
    rig = Rig(blocker)
    cam = Camera(rig.ring, rig.clock, media["b"])
    rig.play(cam, 12)
    rig.ask(8, rig.clock.now)
    rig.play(cam, 22)
    rig.settle()
    [(_, entry)] = rig.attached
    assert entry["status"] == "failed" and entry["error"]
    assert rig.counter("sharpeyes_clips_written_total", outcome="failed") == 1
    assert rig.ring.bytes > 0  # the camera's buffer goes on regardless


def test_a_configured_link_secret_keeps_signed_links_valid_across_restarts(tmp_path: Path) -> None:
    """`clips.link_secret_env`: two runs (or two API processes) sign alike; without it, one key per run."""

    def key(secret: str | None) -> bytes:
        rec = ClipRecorder(ClipsConfig(), ClipStore(str(tmp_path)), CollectorRegistry(), link_secret=secret)
        return rec.link_key

    assert key("district secret") == key("district secret") != key("another secret")
    assert key(None) != key(None)
