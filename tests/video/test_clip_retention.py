"""Retention: days per category, a disk budget with the oldest finished clips first, open incidents kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from video.clip_config import ClipRetention, ClipsConfig
from video.clip_recorder import ClipRecorder
from video.clip_store import ClipMeta, ClipStore, clip_id, plan_deletions

DAY = 86400.0
NOW = 1_700_000_000.0


def _meta(n: int, age_days: float, incidents: dict[str, str], size: int = 100) -> ClipMeta:
    start = NOW - age_days * DAY - n
    return ClipMeta(clip_id("CAM-1", start), "CAM-1", start, start + 30, [start + 10], incidents, size)


@pytest.mark.parametrize(
    ("clips", "budget", "open_ids", "expected"),
    [
        # past its category's days and finished: gone for age
        ([_meta(1, 31, {"1": "crowd"})], 10**9, set(), [(0, "age")]),
        # fire keeps 90 days
        ([_meta(1, 31, {"1": "fire"})], 10**9, set(), []),
        # an open incident's clip stays, however old
        ([_meta(1, 400, {"1": "crowd"})], 10**9, {1}, []),
        # a clip shared by an open and a finished incident stays
        ([_meta(1, 400, {"1": "crowd", "2": "fire"})], 10**9, {2}, []),
        # over budget: the oldest finished first, until under it
        (
            [_meta(1, 3, {"1": "crowd"}), _meta(2, 2, {"2": "crowd"}), _meta(3, 1, {"3": "crowd"})],
            150,
            set(),
            [(0, "disk_budget"), (1, "disk_budget")],
        ),
        # over budget with only open incidents: nothing is deleted
        ([_meta(1, 3, {"1": "sos"}), _meta(2, 2, {"2": "sos"})], 50, {1, 2}, []),
        # over budget: the open incident's older clip is skipped, the finished newer one goes
        ([_meta(1, 3, {"1": "sos"}), _meta(2, 2, {"2": "sos"})], 150, {1}, [(1, "disk_budget")]),
    ],
)
def test_plan(
    clips: list[ClipMeta], budget: int, open_ids: set[int], expected: list[tuple[int, str]]
) -> None:
    retention = ClipRetention(max_bytes=budget)
    got = plan_deletions(clips, NOW, retention, lambda i: i in open_ids)
    assert [(clips.index(c), why) for c, why in got] == expected


def test_recorder_deletes_and_counts_with_reasons(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    clips = [_meta(1, 40, {"1": "crowd"}), _meta(2, 2, {"2": "crowd"}), _meta(3, 1, {"3": "sos"})]
    for m in clips:
        path = store.path_for(m.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * m.size)
        store.save_meta(m)
    registry = CollectorRegistry()
    cfg = ClipsConfig(retention=ClipRetention(max_bytes=150))
    open_ids = {3}
    rec = ClipRecorder(cfg, store, registry, is_open=lambda i: i in open_ids, clock=lambda: NOW)
    rec.run_once()
    assert [m.id for m in store.all()] == [clips[2].id]
    assert store.resolve(clips[0].id) is None and store.resolve(clips[2].id) is not None

    def count(reason: str) -> float:
        return registry.get_sample_value("sharpeyes_clips_deleted_total", {"reason": reason}) or 0.0

    assert count("age") == 1 and count("disk_budget") == 1
    assert registry.get_sample_value("sharpeyes_clips_disk_bytes") == 100


def test_clip_ids_cannot_escape_the_folder(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    for bad in ["../etc~20260101T000000000", "CAM~20260101T000000000/../x", "CAM-1~..", ""]:
        assert store.resolve(bad) is None and store.meta(bad) is None
