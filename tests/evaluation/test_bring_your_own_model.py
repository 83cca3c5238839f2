"""A district's own fire/smoke model, end to end (docs/BRING_YOUR_OWN_MODEL.md), with a tiny model.

`sharpeyes train` (1 epoch, 64 px, CPU, offline) on generated labelled frames → `sharpeyes eval` of the
export on a small labelled suite of real clips, through the command line → the export switched in as one
camera's fire/smoke detector in a service config (`check-config` passes) → the video pipeline runs it on
the real room-fire clip and raises incidents from its boxes, while the other camera keeps the stock
detectors. A 1-epoch model sees next to nothing, so its config keeps boxes from a score of 0.001 and the
rules take any score: this tests the path, not the model (the vendor test shows one that finds fire).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from sharpeyes.settings import load_settings
from tests.support.pipeline import incident_engine, incident_rows, video_pipeline
from tests.support.rtsp import wait_for
from video.config import detector_for

REPO = Path(__file__).resolve().parents[2]
LOW = {"min_score": 0.0, "confirm_k": 1, "confirm_n": 1}  # any box of the class counts (tiny model)


def make_dataset(root: Path) -> Path:
    """8 train and 2 val frames, YOLO format: grey scenes with an orange flame box (class 1) and a pale
    plume box (class 0); frame 0 of each split has no label file, a negative."""
    rng = np.random.default_rng(3)
    for split, n in (("train", 8), ("val", 2)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            image = np.full((96, 128, 3), rng.integers(40, 120), np.uint8)
            rows = []
            for cls, colour in ((1, (0, 120, 255)), (0, (205, 205, 205))) if i else ():
                w, h = (int(v) for v in rng.integers(16, 40, 2))
                x, y = int(rng.integers(0, 128 - w)), int(rng.integers(0, 96 - h))
                cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
                rows.append(
                    f"{cls} {(x + w / 2) / 128:.5f} {(y + h / 2) / 96:.5f} {w / 128:.5f} {h / 96:.5f}"
                )
            if rows:
                (root / "labels" / split / f"frame{i}.txt").write_text("\n".join(rows) + "\n")
            cv2.imwrite(str(root / "images" / split / f"frame{i}.jpg"), image)
    return root


def sharpeyes(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def write_suite(root: Path, rules: list[dict], floors: dict | None = None) -> Path:
    """The district's own labelled footage, as `sharpeyes eval` reads it: a room fire (fire from the
    first frame; its orange haze is smoke `dont_care`) and a street with neither."""
    labels = root / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / "room.yaml").write_text(
        yaml.safe_dump(
            {
                "media": "video/fire_room_getty.mp4",
                "events": [{"kind": "fire", "start": 0.0, "end": None}],
                "dont_care": [{"kind": "smoke", "start": 0.0, "end": None}],
            }
        )
    )
    (labels / "street.yaml").write_text(yaml.safe_dump({"media": "video/crosswalk_pedestrians.mp4"}))
    suite = {
        "name": "district",
        "event_kinds": ["fire", "smoke"],
        "video": {"tamper": {"enabled": False}},
        "clips": [
            {"name": "room", "labels": "labels/room.yaml", "end_s": 4, "camera": {"rules": rules}},
            {"name": "street", "labels": "labels/street.yaml", "end_s": 4, "camera": {"rules": rules}},
        ],
        "floors": floors or {},
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("byom")
    data = make_dataset(base / "district-frames")
    proc = sharpeyes(
        "train", str(data), "--model", "yolov8n.yaml", "--epochs", "1", "--imgsz", "64", "--batch", "4",
        "--workers", "0", "--no-plots", "--out", str(base / "out"), "--name", "fire_smoke_v1",
        cwd=base,
        env={"YOLO_CONFIG_DIR": str(base / "ultralytics-config")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "train: 8 images, 7 labelled, boxes: smoke 7, fire 7" in proc.stdout
    return base / "out"


def test_eval_reports_the_trained_model_on_the_districts_footage(trained: Path, assets: Path) -> None:
    rules = [{"kind": "fire", **LOW}, {"kind": "smoke", **LOW}]
    suite = write_suite(trained / "eval", rules, floors={"events.fire.recall": 1.0})
    out = trained / "eval" / "report.json"
    proc = sharpeyes(
        "eval", str(suite), "--detector", str(trained / "detector.yaml"), "--json", str(out),
        cwd=trained,
        env={"SHARPEYES_ASSETS": str(assets)},
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(out.read_text())
    # which model the figures are about: the one under test, with its file and classes
    assert report["detectors"] == {
        "candidate": {
            "kind": "onnx",
            "label": "onnx:fire_smoke_v1",
            "model": str(trained / "fire_smoke_v1.onnx"),
            "classes": ["smoke", "fire"],
            "under_test": True,
            "serves": ["fire", "smoke"],
        }
    }
    assert (
        "candidate: onnx:fire_smoke_v1 (onnx, " in proc.stdout
        and "→ fire, smoke rules (under test)" in proc.stdout
    )
    # every analysed frame of both clips went through it (and nothing through the stock `fire`)
    assert set(report["speed"]) >= {"detect:candidate", "motion_gate", "rules"}
    assert not any(stage == "detect:fire" for stage in report["speed"])
    assert report["speed"]["detect:candidate"]["frames"] == report["speed"]["motion_gate"]["frames"]
    fire = report["events"]["fire"]
    assert fire["events"] == 1 and fire["negative_s"] > 0  # the room's fire; the street is negative
    # the exit status is the suite's floors, as the report says
    assert proc.returncode == (0 if all(c["ok"] for c in report["checks"]) else 1)
    assert f"limits: {sum(c['ok'] for c in report['checks'])}/1 met" in proc.stdout


def test_switch_one_camera_then_all_and_the_pipeline_runs_the_new_model(
    trained: Path, assets: Path, tmp_path: Path
) -> None:
    entry = yaml.safe_load((trained / "detector.yaml").read_text())["detectors"]["fire_smoke_v1"]
    cameras = [
        {
            "id": "ROOM",
            "url": f"file://{assets}/video/fire_room_getty.mp4",
            "grid": "G-001",
            "detectors": {"fire": "fire_smoke_v1", "smoke": "fire_smoke_v1"},  # this camera only
            "rules": [{"kind": "fire", **LOW}, {"kind": "smoke", **LOW}],
        },
        {
            "id": "STREET",
            "url": f"file://{assets}/video/crosswalk_pedestrians.mp4",
            "grid": "G-001",
            "rules": [{"kind": "fire"}, {"kind": "crowd", "threshold": 100}],
        },
    ]
    config = {
        "storage": {"url": f"sqlite:///{tmp_path / 'se.db'}"},
        "mqtt": {"host": "127.0.0.1", "port": 1883, "embedded": False},
        "grids": [{"id": "G-001", "name": "网格一", "community": "C-1", "street": "S-1"}],
        "detectors": {"fire_smoke_v1": {**entry, "conf": 0.001}},
        "cameras": cameras,
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    check = sharpeyes("check-config", str(path), cwd=tmp_path)
    assert check.returncode == 0 and "site.yaml: ok" in check.stdout, check.stderr

    settings = load_settings(path)
    room, street = settings.cameras
    assert [detector_for(room, k, settings.video) for k in ("fire", "smoke")] == ["fire_smoke_v1"] * 2
    assert [detector_for(street, k, settings.video) for k in ("fire", "crowd")] == ["fire", "people"]

    engine, directory = incident_engine(tmp_path / "se.db")
    video = video_pipeline(
        settings.cameras,
        engine,
        directory,
        tmp_path / "snaps",
        declared=settings.detectors,
        video=settings.video,
    )
    video.start()
    try:
        assert wait_for(lambda: any(r["source_id"] == "ROOM" for r in incident_rows(engine)), 30, 0.2)
        status = {c.id: c.model_dump() for c in video.status()}
    finally:
        video.stop()
    assert status["ROOM"]["detectors"] == {"fire_smoke_v1": {"running": True, "error": None}}
    assert set(status["STREET"]["detectors"]) == {"fire", "people"}
    assert all(d["running"] for d in status["STREET"]["detectors"].values())
    room_incidents = [r for r in incident_rows(engine) if r["source_id"] == "ROOM"]
    assert {r["category"] for r in room_incidents} <= {"fire", "smoke"}
    assert all(r["evidence"]["snapshot"] for r in room_incidents)

    # every camera: the default per rule kind; crowd rules stay on `people`
    config["cameras"][0].pop("detectors")
    kinds = {"fire": "fire_smoke_v1", "smoke": "fire_smoke_v1", "crowd": "people", "gathering": "people"}
    config["video"] = {"default_detectors": kinds}  # the whole map: it replaces the built-in one
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    everywhere = load_settings(path)
    for cam in everywhere.cameras:
        assert detector_for(cam, "fire", everywhere.video) == "fire_smoke_v1"
    assert detector_for(everywhere.cameras[1], "crowd", everywhere.video) == "people"

    # a version that is not declared is refused before the service starts …
    config.pop("video")
    config["cameras"][0]["detectors"] = {"fire": "fire_smoke_v2", "smoke": "fire_smoke_v2"}
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    refused = sharpeyes("check-config", str(path), cwd=tmp_path)
    assert refused.returncode == 1
    assert "cameras[0].detectors.fire: unknown detector 'fire_smoke_v2'" in refused.stderr
    # … and rolling back is pointing the camera at the previous name (`fire`: the built-in classical one)
    config["cameras"][0]["detectors"] = {"fire": "fire", "smoke": "fire"}
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    assert sharpeyes("check-config", str(path), cwd=tmp_path).returncode == 0
    back = load_settings(path)
    assert detector_for(back.cameras[0], "smoke", back.video) == "fire"
