"""One storage interface for evidence — snapshots, clips, field photos — with two implementations: local
folders (`FolderStorage`, the default) and an S3-compatible object store (`video.evidence_s3.S3Storage`,
chosen by `storage.evidence.backend: s3`).

A process builds one *storage* and takes an *area* of it per kind of evidence:
``storage.area("clips", folder)`` is an `EvidenceStore` whose keys are relative, '/'-separated names
(``CAM-01/CAM-01~20260101T120000123.mp4``). The folder storage keeps each area in its own folder — the paths
configured today (`storage.snapshots_dir`, `clips.dir`, `field.photos_dir`), so an existing config changes
nothing; S3 keeps it under ``<prefix><area>/`` in the bucket, with the same keys below.

What every implementation guarantees:
- a reader never sees half an object (temp file + rename; an S3 PUT is whole or absent);
- a write never waits on the network: S3 writes land in a local spool that an uploader thread empties
  (video/evidence_s3.py), so an alarm is never delayed by the store, whatever state it is in;
- a failed write raises OSError to the caller, which records the evidence as missing and goes on, and is
  counted in ``sharpeyes_evidence_store_failures_total{backend, area, op}``;
- reads (`find`, `open_range`, `list`) are made on the API's and the clip thread's time; with S3 they use
  the network and raise `EvidenceUnavailable` when the store cannot be reached (the API answers 503).
"""

from __future__ import annotations

import contextlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from prometheus_client import CollectorRegistry, Counter, Gauge

from alarms.evidence_config import EvidenceStorageConfig

CHUNK = 256 * 1024
# Relative names only: letters, digits and _ : ~ . - in each part, and no part that starts with a dot (no
# `..`, no temp file of a write in progress).
_KEY = re.compile(r"^[A-Za-z0-9_:~-][A-Za-z0-9_:~.-]*(?:/[A-Za-z0-9_:~-][A-Za-z0-9_:~.-]*)*$")


class EvidenceUnavailable(OSError):
    """The store cannot be reached now (the API answers 503; a write was already counted)."""


def check_key(key: str) -> str:
    if len(key) > 512 or not _KEY.match(key):
        raise ValueError(f"bad evidence key {key!r}")
    return key


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # changes whenever the object does (folder: mtime and size)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A finished object, as `EvidenceStore.find` saw it. ``path`` is set where the bytes are a local file
    that stays put (the folder storage): the API then serves it with sendfile and its own range support."""

    store: EvidenceStore
    key: str
    size: int
    etag: str
    modified: float | None = None
    path: Path | None = None

    def open_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)``; the request is made now, so an unreachable store raises here."""
        return self.store.open_range(self.key, start, self.size if end is None else end)

    def read_bytes(self) -> bytes:
        return b"".join(self.open_range())


class EvidenceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.failures = Counter(
            "sharpeyes_evidence_store_failures",
            "Evidence storage operations that failed, by backend, area (snapshots, clips, photos) and op "
            "(write, upload, spool_full, read, delete)",
            ["backend", "area", "op"],
            registry=registry,
        )
        self.uploaded = Counter(
            "sharpeyes_evidence_uploaded",
            "Evidence objects moved from the local spool to the object store",
            ["area"],
            registry=registry,
        )
        self.waiting = Gauge(
            "sharpeyes_evidence_spool_objects",
            "Evidence written locally and waiting for the object store (0 with the folder backend)",
            registry=registry,
        )
        self.waiting_bytes = Gauge(
            "sharpeyes_evidence_spool_bytes",
            "Bytes of evidence waiting for the object store",
            registry=registry,
        )


class EvidenceStore(ABC):
    """One area of evidence (snapshots, clips or photos). Keys are relative names (`check_key`)."""

    backend: str
    area: str

    @abstractmethod
    def local_path(self, key: str) -> Path:
        """Where a producer writes a file for ``key`` before `commit` (the clip writer): the final file of
        the folder backend, a spool file of S3."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (whole or not at all); OSError when it cannot be kept."""

    @abstractmethod
    def commit(self, key: str) -> None:
        """The file at ``local_path(key)`` is complete: keep it (S3: queue its upload)."""

    @abstractmethod
    def exists_here(self, key: str) -> bool:
        """Whether ``key`` is known without the network (a new name is checked against it)."""

    @abstractmethod
    def find(self, key: str) -> StoredObject | None:
        """The object, or None when there is none; EvidenceUnavailable when the store cannot answer."""

    @abstractmethod
    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the object; FileNotFoundError when there is none."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every finished object whose key starts with ``prefix``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (nothing there is no error)."""

    def local_file(self, key: str) -> Path | None:
        """The finished object as a file on this machine, when it is one (folder: always; S3: while it
        waits in the spool)."""
        try:
            path = self.local_path(key)
        except ValueError:
            return None
        return path if path.is_file() else None

    def read(self, key: str) -> bytes | None:
        try:
            found = self.find(key)
            return None if found is None else found.read_bytes()
        except FileNotFoundError:
            return None


class EvidenceStorage(ABC):
    """The process's evidence storage: one per process, an area per kind of evidence."""

    backend: str
    metrics: EvidenceMetrics

    @abstractmethod
    def area(self, name: str, folder: str | Path) -> EvidenceStore:
        """The store for one kind of evidence; ``folder`` is its folder with the folder backend."""

    def describe(self) -> str:
        return self.backend

    def close(self, timeout: float = 5.0) -> None:  # noqa: B027 (nothing to stop for most backends)
        """Stop background work (S3: the uploader; what waits stays in the spool for the next start)."""


def _file_chunks(f: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def open_file_range(path: Path, start: int, end: int) -> Iterator[bytes]:
    """Opened now (a file removed after this call is still read whole), read as it is iterated."""
    return _file_chunks(path.open("rb"), start, end)


class FolderStore(EvidenceStore):
    """An area in a local (or mounted, shared) folder: ``<root>/<key>``."""

    backend = "folder"

    def __init__(self, root: str | Path, area: str = "evidence", metrics: EvidenceMetrics | None = None):
        self.root = Path(root)
        self.area = area
        self.metrics = metrics or EvidenceMetrics(CollectorRegistry())

    def local_path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self.local_path(key)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            self.metrics.failures.labels(self.backend, self.area, "write").inc()
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise

    def commit(self, key: str) -> None:
        if not self.local_path(key).is_file():
            self.metrics.failures.labels(self.backend, self.area, "write").inc()
            raise FileNotFoundError(f"{self.area}/{key} was not written")

    def exists_here(self, key: str) -> bool:
        return self.local_file(key) is not None

    def find(self, key: str) -> StoredObject | None:
        path = self.local_file(key)
        if path is None:
            return None
        st = path.stat()
        return StoredObject(self, key, st.st_size, f"{st.st_mtime_ns}-{st.st_size}", st.st_mtime, path)

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        return open_file_range(self.local_path(key), start, end)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        return list_folder(self.root, prefix)

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)


def list_folder(root: Path, prefix: str = "") -> list[ObjectInfo]:
    """Finished files under ``root`` (temp files and other dot names left out), keys relative to it."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(folder)
        for name in files:
            if name.startswith("."):
                continue
            key = (base / name).relative_to(root).as_posix()
            if not key.startswith(prefix):
                continue
            try:
                st = (base / name).stat()
            except FileNotFoundError:  # deleted meanwhile
                continue
            out.append(ObjectInfo(key, st.st_size, f"{st.st_mtime_ns}-{st.st_size}"))
    return out


class FolderStorage(EvidenceStorage):
    backend = "folder"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.metrics = EvidenceMetrics(registry or CollectorRegistry())

    def area(self, name: str, folder: str | Path) -> EvidenceStore:
        return FolderStore(folder, name, self.metrics)


def evidence_storage(
    cfg: EvidenceStorageConfig,
    *,
    env: Mapping[str, str],
    registry: CollectorRegistry | None,
    spool_dir: str | Path,
) -> EvidenceStorage:
    """The configured storage; ``spool_dir`` is S3's spool unless `s3.spool_dir` names one. boto3 is
    imported only here, for `backend: s3`."""
    if cfg.backend == "s3" and cfg.s3 is not None:
        from video.evidence_s3 import S3Storage

        return S3Storage(cfg.s3, env=env, registry=registry, spool=Path(cfg.s3.spool_dir or spool_dir))
    return FolderStorage(registry)
