"""Evidence snapshots on disk: one JPEG per observation, ``<dir>/<camera>/<time>-<kind>-<level>.jpg``.

The incident's evidence holds the relative name; the API resolves it back here. Names are checked against
a strict pattern and resolved inside the directory, so a request can never read another file.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

_CAMERA = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,63}$")
_FILE = re.compile(r"^[0-9]{8}T[0-9]{9}-[a-z_]{1,32}-[a-z]{1,16}(?:-[0-9]+)?\.jpg$")


class SnapshotStore:
    """Writes atomically (temp file + rename), so a reader never sees half a JPEG."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, camera_id: str, ts: float, kind: str, level: str, jpeg: bytes) -> str:
        """Store ``jpeg``; return its name relative to the root (``CAM-01/20261122T120000123-fire-…``)."""
        if not _CAMERA.match(camera_id):
            raise ValueError(f"camera id {camera_id!r} cannot name a snapshot folder")
        folder = self.root / camera_id
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ts)) + f"{int(ts * 1000) % 1000:03d}"
        base = f"{stamp}-{kind}-{level}"
        name, n = f"{base}.jpg", 1
        while (folder / name).exists():
            n += 1
            name = f"{base}-{n}.jpg"
        if not _FILE.match(name):
            raise ValueError(f"kind {kind!r} / level {level!r} cannot name a snapshot")
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(jpeg)
        os.replace(tmp, folder / name)
        return f"{camera_id}/{name}"

    def resolve(self, camera_id: str, filename: str) -> Path | None:
        """The file for a name from the API, or None when the name is malformed or nothing is there."""
        if not _CAMERA.match(camera_id) or not _FILE.match(filename):
            return None
        path = self.root / camera_id / filename
        return path if path.is_file() else None
