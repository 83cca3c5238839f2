"""Evidence snapshots: one JPEG per observation, ``<camera>/<time>-<kind>-<level>.jpg`` in the `snapshots`
area of the evidence storage (video/evidence_store.py: a folder, by default `storage.snapshots_dir`, or
``<prefix>snapshots/`` in an S3 bucket).

The incident's evidence holds the relative name; the API resolves it back here. Names are checked against
a strict pattern before they reach the store, so a request can never read another file or object.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from video.evidence_store import EvidenceStore, FolderStore, StoredObject

_CAMERA = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,63}$")
_FILE = re.compile(r"^[0-9]{8}T[0-9]{9}-[a-z_]{1,32}-[a-z]{1,16}(?:-[0-9]+)?\.jpg$")


class SnapshotStore:
    """Writes whole or not at all, so a reader never sees half a JPEG; never waits on the network (the
    alarm thread saves the snapshot before the incident is opened)."""

    def __init__(self, root: str | Path | EvidenceStore) -> None:
        self.store = root if isinstance(root, EvidenceStore) else FolderStore(root, "snapshots")

    def save(self, camera_id: str, ts: float, kind: str, level: str, jpeg: bytes) -> str:
        """Store ``jpeg``; return its name relative to the root (``CAM-01/20261122T120000123-fire-…``).
        OSError when the storage cannot keep it (counted by the store)."""
        if not _CAMERA.match(camera_id):
            raise ValueError(f"camera id {camera_id!r} cannot name a snapshot folder")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ts)) + f"{int(ts * 1000) % 1000:03d}"
        base = f"{stamp}-{kind}-{level}"
        name, n = f"{base}.jpg", 1
        while self.store.exists_here(f"{camera_id}/{name}"):
            n += 1
            name = f"{base}-{n}.jpg"
        if not _FILE.match(name):
            raise ValueError(f"kind {kind!r} / level {level!r} cannot name a snapshot")
        self.store.put(f"{camera_id}/{name}", jpeg)
        return f"{camera_id}/{name}"

    @staticmethod
    def _key(camera_id: str, filename: str) -> str | None:
        if not _CAMERA.match(camera_id) or not _FILE.match(filename):
            return None
        return f"{camera_id}/{filename}"

    def find(self, camera_id: str, filename: str) -> StoredObject | None:
        """The snapshot for a name from the API, or None when the name is malformed or nothing is there;
        EvidenceUnavailable when the store cannot answer."""
        key = self._key(camera_id, filename)
        return None if key is None else self.store.find(key)

    def resolve(self, camera_id: str, filename: str) -> Path | None:
        """The snapshot as a local file, where it is one (the folder storage; S3 until uploaded)."""
        key = self._key(camera_id, filename)
        return None if key is None else self.store.local_file(key)
