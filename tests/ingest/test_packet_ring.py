"""The encoded-packet ring: starts at a keyframe, bounded by age and bytes, marks jumps and gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.packet_ring import PacketRing
from tests.support.h264_packets import Clock, feed, make_h264


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_h264(tmp_path_factory.mktemp("h264") / "b.mp4", 12.0)


def test_keeps_the_last_seconds_from_a_keyframe(clip: Path) -> None:
    clock = Clock()
    ring = PacketRing("C", keep_s=4.0, max_bytes=50_000_000, clock=clock)
    feed(ring, clock, clip)
    packets = ring.from_time(0)
    assert packets[0].key
    span = packets[-1].wall - packets[0].wall
    assert 4.0 <= span <= 5.1  # the window plus at most one GOP (1 s) so that it starts at a keyframe
    assert ring.bytes == sum(len(p.data) for p in packets)
    assert any(p.pts != p.dts for p in packets)  # B-frames kept as sent


def test_byte_bound_wins_over_age(clip: Path) -> None:
    clock = Clock()
    ring = PacketRing("C", keep_s=60.0, max_bytes=20_000, clock=clock)
    feed(ring, clock, clip)
    assert 0 < ring.bytes <= 20_000
    assert ring.from_time(0)[0].key
    assert ring.dropped_bytes > 0


def test_from_time_starts_at_the_keyframe_before(clip: Path) -> None:
    clock = Clock()
    start = clock.now
    ring = PacketRing("C", keep_s=30.0, max_bytes=50_000_000, clock=clock)
    feed(ring, clock, clip)
    packets = ring.from_time(start + 5.5)
    assert packets[0].key and packets[0].wall <= start + 5.5 < packets[0].wall + 1.01
    later = ring.after(packets[10].seq)
    assert later[0].seq == packets[11].seq and later[-1].seq == packets[-1].seq
    assert ring.after(packets[-1].seq) == []


def test_reconnect_leaves_a_gap_and_a_new_segment(clip: Path) -> None:
    clock = Clock()
    ring = PacketRing("C", keep_s=60.0, max_bytes=50_000_000, clock=clock)
    feed(ring, clock, clip, until=clock.now + 3)
    ring.end("timed out")
    down_at = clock.now
    clock.now += 5
    feed(ring, clock, clip, until=clock.now + 3)
    [gap] = ring.gaps_between(down_at - 1, clock.now)
    assert gap.reason == "timed out" and gap.start == down_at and gap.end == down_at + 5
    segments = {p.segment.id for p in ring.from_time(0)}
    assert len(segments) == 2


def test_timestamp_jump_starts_a_new_anchor(clip: Path) -> None:
    clock = Clock()
    ring = PacketRing("C", keep_s=60.0, max_bytes=50_000_000, clock=clock)
    feed(ring, clock, clip, until=clock.now + 2)
    assert len({p.anchor for p in ring.from_time(0)}) == 1
    # the same connection goes on, but the camera's clock jumps by about an hour
    feed(ring, clock, clip, until=clock.now + 2, pts_shift=12800 * 3600, begin=False)
    packets = ring.from_time(0)
    assert len({p.segment.id for p in packets}) == 1
    assert len({p.anchor for p in packets}) == 2


def test_packets_before_any_connection_or_keyframe_are_ignored() -> None:
    ring = PacketRing("C", keep_s=10.0, max_bytes=1000)

    class NoPacket:
        size, pts, dts, is_keyframe = 10, 0, 0, True

    ring.packet(NoPacket())
    assert len(ring) == 0 and not ring.online
