"""The latency benchmark's hop marks (ingest/hop_trace.py): off by default, written at exit when asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from ingest import hop_trace
hop_trace.mark("B-001", 7, "received", 100.0)
body = '{"data": {"source_kind": "button", "source_id": "B-001", "evidence": {"last_seq": 7}}}'
hop_trace.mark_payload(body, "sent")
hop_trace.mark_payload('{"data": {"source_kind": "camera", "source_id": "CAM-01", "evidence": {}}}', "sent")
print(hop_trace.ENABLED)
"""


def _run(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_marks_are_written_at_exit_when_a_file_is_named(tmp_path: Path) -> None:
    trace = tmp_path / "hops.jsonl"
    env = {**os.environ, "SHARPEYES_HOP_TRACE": str(trace)}
    assert _run(env) == "True"
    marks = [json.loads(line) for line in trace.read_text().splitlines()]
    assert marks[0] == ["B-001", 7, "received", 100.0]
    assert [m[:3] for m in marks] == [["B-001", 7, "received"], ["B-001", 7, "sent"]]  # cameras: not presses


def test_off_by_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHARPEYES_HOP_TRACE"}
    assert _run(env) == "False"
    assert list(tmp_path.iterdir()) == []
