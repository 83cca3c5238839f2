"""Clips and what is known about each: ``<camera>/<clip id>.mp4`` with a ``.json`` beside it, in the `clips`
area of the evidence storage (video/evidence_store.py: the folder `clips.dir`, by default `clips/` beside the
snapshots, or ``<prefix>clips/`` in an S3 bucket).

The JSON (incidents, window, trigger moments, size, sha256, what is missing) lets retention run after a
restart without the database, and the API find a clip by id. Ids are checked against a strict pattern
before they reach the store, so a request can never read another file or object. The clip writer writes
the MP4 at `path_for` (the folder itself, or S3's local spool); `save_meta` then keeps the file and its
record (S3: queued for upload, file first, so a record never names a missing file).

Retention: a finished incident's clips expire after their category's days; over the byte budget (the
folder's clips, or every clip under the bucket prefix: `retention.max_bytes`), the oldest clips of finished
incidents go first. A clip that belongs to an open incident is never deleted, whatever the budget says:
the budget is a target, not a reason to lose live evidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from video.clip_config import ClipRetention
from video.evidence_store import EvidenceStore, FolderStore, StoredObject

log = logging.getLogger(__name__)

_CAMERA = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,63}$")
CLIP_ID = re.compile(r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,63})~[0-9]{8}T[0-9]{9}(?:-p[0-9]{1,3})?$")


def clip_id(camera_id: str, start: float, part: int = 1) -> str:
    """``CAM-01~20260101T120000123`` (``-p2`` for a second part): the camera and its start, sortable."""
    if not _CAMERA.match(camera_id):
        raise ValueError(f"camera id {camera_id!r} cannot name a clip folder")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(start)) + f"{int(start * 1000) % 1000:03d}"
    return f"{camera_id}~{stamp}" + (f"-p{part}" if part > 1 else "")


def link_key(secret: str | None) -> bytes:
    """The key that signs expiring clip links: from `clips.link_secret_env`'s value, so every process and
    every restart agree; without one, a random key for this process only."""
    if secret:
        return hashlib.sha256(b"sharpeyes clip links\n" + secret.encode()).digest()
    return secrets.token_bytes(32)


@dataclass(slots=True)
class ClipMeta:
    """One clip file. ``incidents`` maps incident id (as text: JSON keys) to its category."""

    id: str
    camera_id: str
    start: float
    end: float
    triggers: list[float]
    incidents: dict[str, str]
    size: int = 0
    sha256: str = ""
    width: int = 0
    height: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0

    def evidence(self) -> dict[str, Any]:
        """What the incident records (and webhooks carry): the link needs an API token or session."""
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "status": "saved",
            "url": f"/api/clips/{self.id}",
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "duration_s": round(self.end - self.start, 2),
            "triggers": [round(t, 3) for t in self.triggers],
            "size": self.size,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "missing": self.missing,
        }


class ClipStore:
    def __init__(self, root: str | Path | EvidenceStore) -> None:
        self.store = root if isinstance(root, EvidenceStore) else FolderStore(root, "clips")
        self._records: dict[str, tuple[str, ClipMeta]] = {}  # JSON key → (its etag, the record)

    @staticmethod
    def _key(clip: str, suffix: str = ".mp4") -> str:
        m = CLIP_ID.match(clip)
        if m is None:
            raise ValueError(f"bad clip id {clip!r}")
        return f"{m.group(1)}/{clip}{suffix}"

    def path_for(self, clip: str) -> Path:
        """Where the clip writer writes the MP4 (then `save_meta` keeps it)."""
        return self.store.local_path(self._key(clip))

    def resolve(self, clip: str) -> Path | None:
        """The clip as a local file for an id, where it is one (folder; S3 until uploaded), or None."""
        if not CLIP_ID.match(clip):
            return None
        return self.store.local_file(self._key(clip))

    def find(self, clip: str) -> StoredObject | None:
        """The clip for an id from the API, or None (malformed, or nothing there); EvidenceUnavailable
        when the store cannot answer."""
        if not CLIP_ID.match(clip):
            return None
        return self.store.find(self._key(clip))

    def meta(self, clip: str) -> ClipMeta | None:
        if not CLIP_ID.match(clip):
            return None
        return self._load(self._key(clip, ".json"))

    def _load(self, key: str) -> ClipMeta | None:
        try:
            data = self.store.read(key)
            return None if data is None else ClipMeta(**json.loads(data))
        except (OSError, ValueError, TypeError):
            return None

    def save_meta(self, meta: ClipMeta) -> None:
        """Keep the finished MP4 (when it was written here) and its record; OSError when storage fails."""
        key = self._key(meta.id)
        if self.store.local_file(key) is not None:
            self.store.commit(key)
        self.store.put(self._key(meta.id, ".json"), json.dumps(asdict(meta)).encode())

    def all(self) -> list[ClipMeta]:
        """Every clip's record; a record read before is taken from memory while its etag is the same."""
        out, seen = [], {}
        for info in self.store.list():
            if not info.key.endswith(".json"):
                continue
            cached = self._records.get(info.key)
            meta = cached[1] if cached and cached[0] == info.etag else self._load(info.key)
            if meta is not None and CLIP_ID.match(meta.id):
                seen[info.key] = (info.etag, meta)
                out.append(meta)
        self._records = seen
        return out

    def delete(self, meta: ClipMeta) -> None:
        self.store.delete(self._key(meta.id))
        self.store.delete(self._key(meta.id, ".json"))


def expired(meta: ClipMeta, now: float, retention: ClipRetention) -> bool:
    days = max(
        (retention.days_for(c) for c in meta.incidents.values()), default=retention.days_for("default")
    )
    return now - meta.end > days * 86400


def plan_deletions(
    clips: list[ClipMeta], now: float, retention: ClipRetention, is_open: Callable[[int], bool]
) -> list[tuple[ClipMeta, str]]:
    """What to delete and why ("age" or "disk_budget"). Never a clip of an open incident."""
    deletable = [c for c in clips if not any(is_open(int(i)) for i in c.incidents)]
    doomed = [(c, "age") for c in deletable if expired(c, now, retention)]
    gone = {c.id for c, _ in doomed}
    total = sum(c.size for c in clips if c.id not in gone)
    for c in sorted(deletable, key=lambda c: c.end):
        if total <= retention.max_bytes:
            break
        if c.id not in gone:
            doomed.append((c, "disk_budget"))
            gone.add(c.id)
            total -= c.size
    return doomed
