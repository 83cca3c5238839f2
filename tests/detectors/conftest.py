"""Shared helpers for detector tests: real assets from SHARPEYES_ASSETS (default ../shared/assets).

A missing asset fails the test that needs it: these tests exist to check behaviour on real media.
Helpers are handed out as fixtures (not imported), so test directories never clash on module names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from ingest.types import Frame

REPO = Path(__file__).resolve().parents[2]


def make_frame(image: np.ndarray, camera_id: str = "cam", seq: int = 0, at: float = 0.0) -> Frame:
    return Frame(camera_id, seq, at, int(at * 1e9), image)


class Media:
    """Paths, images and sampled video frames from the shared assets folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str) -> Path:
        path = self.root / relative
        if not path.is_file():
            pytest.fail(f"missing test asset {path} (set SHARPEYES_ASSETS to the shared assets folder)")
        return path

    def image(self, relative: str) -> np.ndarray:
        image = cv2.imread(str(self.path(relative)))
        assert image is not None, f"could not decode {relative}"
        return image

    def frame(self, relative: str, camera_id: str = "cam") -> Frame:
        return make_frame(self.image(relative), camera_id)

    def video(
        self, relative: str, *, every_s: float, max_s: float | None = None, camera_id: str = "cam"
    ) -> Iterator[Frame]:
        """Frames sampled every `every_s` seconds of video time, stamped with that time."""
        capture = cv2.VideoCapture(str(self.path(relative)))
        assert capture.isOpened(), f"could not open {relative}"
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps * every_s))
        index = 0
        try:
            while max_s is None or index / fps <= max_s:
                if index % step == 0:
                    ok, image = capture.read()
                    if not ok:
                        return
                    yield Frame(camera_id, index, index / fps, int(index / fps * 1e9), image)
                elif not capture.grab():
                    return
                index += 1
        finally:
            capture.release()


@pytest.fixture(scope="session")
def media() -> Media:
    return Media(Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets")))
