"""Fails when a module in a source package grows past 400 lines: split it by responsibility instead."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGES = ("ingest", "detectors", "alarms", "video", "dashboard", "jetstream", "sharpeyes")
LIMIT = 400


def oversized(root: Path) -> list[tuple[Path, int]]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LIMIT:
                found.append((path.relative_to(root), lines))
    return found


def main() -> int:
    found = oversized(Path(__file__).resolve().parent.parent)
    for path, lines in found:
        sys.stderr.write(f"{path}: {lines} lines (limit {LIMIT}): split it by responsibility\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
