"""The ``evidence-upload`` thread of the S3 evidence storage (video/evidence_s3.py): the local spool's queue
to the bucket, in the order it was written (a clip's MP4 before its JSON record), retried with backoff while
the store fails — each failure counted, the outage logged once when it starts and once when it ends — and
bounded by `spool_max_bytes` (a write past it is refused and counted, never blocked)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import TYPE_CHECKING

from video.evidence_store import list_folder

if TYPE_CHECKING:
    from video.evidence_s3 import S3Storage

log = logging.getLogger(__name__)

_CONTENT_TYPES = {".jpg": "image/jpeg", ".mp4": "video/mp4", ".json": "application/json"}
_RECENT = 4096  # keys written by this process, remembered so a new name is not reused without a HEAD


class SpoolFull(OSError):
    """More evidence waits for the store than `spool_max_bytes` allows."""


def _content_type(key: str) -> str:
    return _CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


class Uploader:
    """The ``evidence-upload`` thread: the spool's queue to the bucket, in order, retried while it fails."""

    def __init__(self, storage: S3Storage) -> None:
        self.s = storage
        self._queue: deque[tuple[str, str, int]] = deque()
        self._cond = threading.Condition()
        self._bytes = 0
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._down_since: float | None = None
        self._tries = 0
        self._full = False

    # ----- the writers' side (any thread; never blocks on the network) -----------------------------------
    def reserve(self, area: str, size: int) -> None:
        with self._cond:
            if self._bytes + size <= self.s.cfg.spool_max_bytes:
                self._full = False
                return
            first, self._full = not self._full, True
        self.s.failed(area, "spool_full")
        if first:
            log.error(
                "evidence store %s: %d bytes already wait in %s (spool_max_bytes %d); new %s evidence is "
                "refused until uploads resume",
                self.s.describe(), self._bytes, self.s.spool, self.s.cfg.spool_max_bytes, area,
            )
        raise SpoolFull(f"evidence spool full ({self._bytes} bytes wait for the object store)")

    def enqueue(self, area: str, key: str, size: int) -> None:
        with self._cond:
            self._queue.append((area, key, size))
            self._bytes += size
            self._recent[(area, key)] = None
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
            self._gauges()
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="evidence-upload", daemon=True)
                self._thread.start()
            self._cond.notify()

    def recent(self, area: str, key: str) -> bool:
        with self._cond:
            return (area, key) in self._recent

    def recover(self) -> None:
        """Queue what an earlier run left in the spool (oldest first; a clip's record after its file)."""
        if not self.s.spool.is_dir():
            return
        left = []
        areas = [p.name for p in self.s.spool.iterdir() if p.is_dir() and not p.name.startswith(".")]
        for area in sorted(areas):
            for info in list_folder(self.s.spool / area):
                mtime = (self.s.spool / area / info.key).stat().st_mtime_ns
                left.append((mtime, info.key.endswith(".json"), area, info.key, info.size))
        for *_, area, key, size in sorted(left):
            self.enqueue(area, key, size)
        if left:
            log.info("evidence store %s: %d objects of an earlier run queued", self.s.describe(), len(left))

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _gauges(self) -> None:
        self.s.metrics.waiting.set(len(self._queue))
        self.s.metrics.waiting_bytes.set(self._bytes)

    # ----- the thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                area, key, size = self._queue[0]
            if self._upload(area, key):
                backoff = 0.5
                with self._cond:
                    self._queue.popleft()
                    self._bytes -= size
                    self._gauges()
                continue
            with self._cond:  # the same object again after the wait; stop() cuts the wait short
                self._cond.wait(backoff)
            backoff = min(backoff * 2, self.s.cfg.retry_max_s)

    def _upload(self, area: str, key: str) -> bool:
        path = self.s.spool / area / key
        if not path.is_file():
            return True  # deleted while it waited (retention): nothing to send
        try:
            from boto3.s3.transfer import TransferConfig

            self.s.client().upload_file(
                str(path),
                self.s.cfg.bucket,
                self.s.object_key(area, key),
                ExtraArgs={"ContentType": _content_type(key)},
                Config=TransferConfig(use_threads=False, multipart_threshold=64 * 1024 * 1024),
            )
        except Exception as exc:  # any failure: counted, logged once per outage, retried
            self._failed(area, key, exc)
            return False
        path.unlink(missing_ok=True)
        self.s.metrics.uploaded.labels(area).inc()
        self._back()
        return True

    def _failed(self, area: str, key: str, exc: BaseException) -> None:
        self.s.failed(area, "upload")
        self._tries += 1
        if self._down_since is not None:
            log.debug("evidence upload %s/%s failed again: %s", area, key, exc)
            return
        self._down_since = time.monotonic()
        log.warning(
            "evidence store %s unreachable (%s: %s) uploading %s/%s; %d objects (%d bytes) wait in %s and "
            "are retried; alarms go on",
            self.s.describe(), type(exc).__name__, exc, area, key, self.pending(), self._bytes, self.s.spool,
        )

    def _back(self) -> None:
        if self._down_since is None:
            return
        log.warning(
            "evidence store %s reachable again after %.0f s (%d failed uploads); %d objects still to upload",
            self.s.describe(), time.monotonic() - self._down_since, self._tries, self.pending() - 1,
        )
        self._down_since, self._tries = None, 0
