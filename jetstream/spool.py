"""A shard's local spool: observations JetStream did not take, kept in order until it takes them again.

Bounded in memory and mirrored to an append-only JSONL file (one `BusMessage.encode()` per line), so a shard
restarted on the same node replays what an outage left. Replaying is safe because every message keeps its
`Nats-Msg-Id`: whatever JetStream already stored (a publish that timed out but landed, a file replayed after a
crash mid-drain) is dropped as a repeat inside the duplicate window, and by the engine's `seen_events` after.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

from jetstream.observations import BusMessage

log = logging.getLogger(__name__)

# A file left longer than this (the engine's default dedup window) is not replayed: its repeats could no
# longer be recognised, and an observation that old would reopen an incident long dealt with.
MAX_FILE_AGE_S = 86400.0


class SpoolMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "sharpeyes_observation_spool_total",
            "Observations kept while JetStream was unreachable (spooled), published from the spool later "
            "(replayed), lost because the spool was full (dropped), or too old in a spool file (expired)",
            ["outcome"],
            registry=registry,
        )
        self.depth = Gauge(
            "sharpeyes_observation_spool_depth", "Observations waiting in the spool", registry=registry
        )


class ObservationSpool:
    """FIFO: `append` at the tail, `head`/`pop` once JetStream stored the head. Not thread-safe (one loop)."""

    def __init__(self, path: Path | None, max_messages: int, metrics: SpoolMetrics) -> None:
        self.path = path
        self.max_messages = max_messages
        self.metrics = metrics
        self._queue: deque[BusMessage] = deque()
        self._file_ok = path is not None
        self._file_lines = 0  # popped lines stay in the file until the spool empties (or a compaction)
        if path is not None:
            self._load(path)
        self.metrics.depth.set(len(self._queue))

    def __len__(self) -> int:
        return len(self._queue)

    def _load(self, path: Path) -> None:
        """What a previous run left (an outage it did not see the end of), oldest first."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes() if path.exists() else b""
        except OSError as exc:
            log.warning("spool %s unreadable, keeping observations in memory only: %s", path, exc.strerror)
            self._file_ok = False
            return
        bad = expired = 0
        oldest = time.time() - MAX_FILE_AGE_S
        lines = data.splitlines()
        self._file_lines = len(lines)
        for line in lines:
            if not line.strip():
                continue
            try:
                msg = BusMessage.decode(line)
            except ValueError:  # a line cut short by a crash: the rest is still good
                bad += 1
                continue
            if (msg.trigger.ts if msg.trigger is not None else msg.ts) < oldest:
                expired += 1
                self.metrics.events.labels("expired").inc()
                continue
            if len(self._queue) >= self.max_messages:
                self.metrics.events.labels("dropped").inc()
                continue
            self._queue.append(msg)
        if self._queue or bad or expired:
            log.warning(
                "spool %s: %d observations to replay (%d unreadable lines, %d older than %.0f s dropped)",
                path,
                len(self),
                bad,
                expired,
                MAX_FILE_AGE_S,
            )
        torn = bool(data) and not data.endswith(b"\n")  # the next append must not glue onto a torn line
        if bad or expired or torn:
            try:
                self._rewrite(path)
            except OSError as exc:
                log.warning("spool %s not rewritable, memory only: %s", path, exc.strerror)
                self._file_ok = False

    def append(self, msg: BusMessage) -> bool:
        """False when full: the caller counts and reports the loss."""
        if len(self._queue) >= self.max_messages:
            self.metrics.events.labels("dropped").inc()
            return False
        self._queue.append(msg)
        self.metrics.events.labels("spooled").inc()
        self.metrics.depth.set(len(self._queue))
        if self._file_ok and self.path is not None:
            try:
                if self._file_lines >= 2 * self.max_messages:
                    self._rewrite(self.path)  # a long, flaky outage: drop the lines already replayed
                else:
                    with self.path.open("ab") as f:
                        f.write(msg.encode() + b"\n")
                    self._file_lines += 1
            except OSError as exc:  # disk full or gone: memory still holds it
                log.warning("spool %s not writable, memory only from now: %s", self.path, exc.strerror)
                self._file_ok = False
        return True

    def _rewrite(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(m.encode() + b"\n" for m in self._queue))
        os.replace(tmp, path)
        self._file_lines = len(self._queue)

    def head(self) -> BusMessage:
        return self._queue[0]

    def pop(self) -> None:
        """The head is stored in JetStream. An empty spool empties its file (the outage is over)."""
        self._queue.popleft()
        self.metrics.events.labels("replayed").inc()
        self.metrics.depth.set(len(self._queue))
        if not self._queue and self.path is not None:
            self._truncate(self.path)

    def _truncate(self, path: Path) -> None:
        try:
            if path.exists():
                os.truncate(path, 0)
            self._file_lines = 0
            self._file_ok = True
        except OSError as exc:
            log.warning("spool %s not truncated (its lines will be replayed as repeats): %s", path, exc)
