"""Camera → shard assignment: stable, balanced, and a config change moves only what must move."""

from __future__ import annotations

import pytest

from sharpeyes.distributed.shards import assign, digest, jump_hash, plan, shard_of

CAMS = [f"CAM-{i:05d}" for i in range(3116)]


def test_shard_of_is_stable_across_processes() -> None:
    # Fixed values: a different hash (Python's salted hash(), a new library) would silently move every camera.
    assert [shard_of(c, 64) for c in ("CAM-00001", "CAM-00002", "dev:CAM.7")] == [26, 33, 16]
    assert jump_hash(0, 1) == 0
    assert {jump_hash(k, 10) for k in range(1000)} == set(range(10))


@pytest.mark.parametrize("shards", [1, 8, 64, 130])
def test_assignment_is_balanced(shards: int) -> None:
    sizes = [len(v) for v in assign(CAMS, shards).values()]
    assert len(sizes) == shards and sum(sizes) == len(CAMS)
    mean = len(CAMS) / shards
    assert max(sizes) <= mean * 1.5 + 5


@pytest.mark.parametrize(("before", "after"), [(8, 9), (64, 65), (130, 140)])
def test_growing_the_shard_count_moves_about_the_new_share(before: int, after: int) -> None:
    moved = sum(shard_of(c, before) != shard_of(c, after) for c in CAMS)
    expected = len(CAMS) * (after - before) / after
    assert expected * 0.7 <= moved <= expected * 1.3
    # and every moved camera goes to a new shard, never between old ones (jump hash's property)
    assert all(shard_of(c, after) >= before for c in CAMS if shard_of(c, before) != shard_of(c, after))


def test_plan_names_only_the_cameras_that_must_move() -> None:
    old = {c: {"id": c, "url": f"file:///{c}.mp4"} for c in CAMS[:100]}
    new = {c: dict(v) for c, v in old.items() if c != "CAM-00003"}
    new["CAM-09999"] = {"id": "CAM-09999", "url": "file:///x.mp4"}
    new["CAM-00007"] = {"id": "CAM-00007", "url": "file:///other.mp4"}
    moves = plan(old, new, 8, 8)
    assert moves.added == {"CAM-09999": shard_of("CAM-09999", 8)}
    assert moves.removed == {"CAM-00003": shard_of("CAM-00003", 8)}
    assert moves.changed == {"CAM-00007": shard_of("CAM-00007", 8)}
    assert moves.moved == {}
    assert len(moves.touched_shards) <= 3


def test_digest_ignores_order_but_not_content() -> None:
    a, b = {"id": "A", "url": "u1"}, {"id": "B", "url": "u2"}
    assert digest([a, b]) == digest([b, a])
    assert digest([a, b]) != digest([a, {**b, "url": "u3"}])
