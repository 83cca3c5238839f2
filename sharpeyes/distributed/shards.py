"""Which shard owns which camera: a stable hash, so an unchanged camera never moves.

Jump consistent hashing (Lamping & Veach 2014) on a BLAKE2 digest of the camera id: independent of process,
Python version and PYTHONHASHSEED, and growing from n to n+1 shards moves only about 1/(n+1) of the cameras.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_MASK64 = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def shard_of(camera_id: str, shards: int) -> int:
    digest = hashlib.blake2b(camera_id.encode(), digest_size=8).digest()
    return jump_hash(int.from_bytes(digest, "big"), shards)


def assign(camera_ids: Iterable[str], shards: int) -> dict[int, list[str]]:
    """Every shard index (empty ones too, they are kept alive) to its sorted camera ids."""
    out: dict[int, list[str]] = {i: [] for i in range(shards)}
    for cam in sorted(camera_ids):
        out[shard_of(cam, shards)].append(cam)
    return out


def digest(cameras: Sequence[Mapping[str, Any]]) -> str:
    """A shard's assignment fingerprint: its pipeline restarts only when this changes."""
    blob = json.dumps(sorted(cameras, key=lambda c: str(c["id"])), sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Moves:
    """What a config change does: only these cameras stop or start anywhere."""

    added: dict[str, int]
    removed: dict[str, int]
    moved: dict[str, tuple[int, int]]  # shard count changed: from → to
    changed: dict[str, int]  # same shard, new camera config (restarted there)

    @property
    def touched_shards(self) -> set[int]:
        return (
            set(self.added.values())
            | set(self.removed.values())
            | {s for pair in self.moved.values() for s in pair}
            | set(self.changed.values())
        )


def plan(
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
    old_shards: int,
    new_shards: int,
) -> Moves:
    """Camera configs by id, before and after: the cameras that must move (nothing else does)."""
    added = {c: shard_of(c, new_shards) for c in new.keys() - old.keys()}
    removed = {c: shard_of(c, old_shards) for c in old.keys() - new.keys()}
    moved: dict[str, tuple[int, int]] = {}
    changed: dict[str, int] = {}
    for cam in old.keys() & new.keys():
        a, b = shard_of(cam, old_shards), shard_of(cam, new_shards)
        if a != b:
            moved[cam] = (a, b)
        elif dict(old[cam]) != dict(new[cam]):
            changed[cam] = b
    return Moves(added, removed, moved, changed)
