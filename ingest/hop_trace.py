"""Hop times of single presses, for `benchmarks/sos_latency.py --hops`: which hop a slow press spent its
time in (the service's histograms only see whole stretches). Off unless the environment variable
SHARPEYES_HOP_TRACE names a file; the marks stay in memory and are appended there when each process exits."""

from __future__ import annotations

import atexit
import json
import os
import time

_PATH = os.environ.get("SHARPEYES_HOP_TRACE")
_MAX_MARKS = 2_000_000  # a bound, so a trace left on by mistake cannot eat the memory
_marks: list[tuple[str, int, str, float]] = []
ENABLED = bool(_PATH)


def mark(button: str, seq: int, hop: str, at: float | None = None) -> None:
    """Records that a press reached a hop (wall clock). Callers check ENABLED first on hot paths."""
    if ENABLED and len(_marks) < _MAX_MARKS:
        _marks.append((button, seq, hop, time.time() if at is None else at))


def mark_payload(payload: str, hop: str) -> None:
    """The same for an outbox item, known by the press its incident body names."""
    data = json.loads(payload).get("data", {})
    seq = (data.get("evidence") or {}).get("last_seq")
    if data.get("source_kind") == "button" and isinstance(seq, int):
        mark(data["source_id"], seq, hop)


def _write() -> None:
    if _PATH:
        with open(_PATH, "a", encoding="utf-8") as f:  # appended: the sender process writes its own marks
            for button, seq, hop, at in _marks:
                f.write(f"{json.dumps([button, seq, hop, at])}\n")


if ENABLED:
    atexit.register(_write)
