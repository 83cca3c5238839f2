"""Clips on disk and what is known about each: ``<dir>/<camera>/<clip id>.mp4`` with a ``.json`` beside it.

The JSON (incidents, window, trigger moments, size, sha256, what is missing) lets retention run after a
restart without the database, and the API find a clip by id. Ids are checked against a strict pattern and
resolved inside the folder, so a request can never read another file.

Retention: a finished incident's clips expire after their category's days; over the disk budget, the
oldest clips of finished incidents go first. A clip that belongs to an open incident is never deleted,
whatever the budget says: the budget is a target, not a reason to lose live evidence.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from video.clip_config import ClipRetention

log = logging.getLogger(__name__)

_CAMERA = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,63}$")
CLIP_ID = re.compile(r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,63})~[0-9]{8}T[0-9]{9}(?:-p[0-9]{1,3})?$")


def clip_id(camera_id: str, start: float, part: int = 1) -> str:
    """``CAM-01~20260101T120000123`` (``-p2`` for a second part): the camera and its start, sortable."""
    if not _CAMERA.match(camera_id):
        raise ValueError(f"camera id {camera_id!r} cannot name a clip folder")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(start)) + f"{int(start * 1000) % 1000:03d}"
    return f"{camera_id}~{stamp}" + (f"-p{part}" if part > 1 else "")


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
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, clip: str) -> Path:
        m = CLIP_ID.match(clip)
        if m is None:
            raise ValueError(f"bad clip id {clip!r}")
        return self.root / m.group(1) / f"{clip}.mp4"

    def resolve(self, clip: str) -> Path | None:
        """The file for an id from the API, or None (malformed, or nothing there)."""
        if not CLIP_ID.match(clip):
            return None
        path = self.path_for(clip)
        return path if path.is_file() else None

    def meta(self, clip: str) -> ClipMeta | None:
        if not CLIP_ID.match(clip):
            return None
        try:
            return ClipMeta(**json.loads(self.path_for(clip).with_suffix(".json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save_meta(self, meta: ClipMeta) -> None:
        path = self.path_for(meta.id).with_suffix(".json")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(meta)))
        os.replace(tmp, path)

    def all(self) -> list[ClipMeta]:
        out = []
        for path in self.root.glob("*/*.json"):
            if path.name.startswith("."):
                continue
            meta = self.meta(path.stem)
            if meta is not None:
                out.append(meta)
        return out

    def delete(self, meta: ClipMeta) -> None:
        path = self.path_for(meta.id)
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)


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
