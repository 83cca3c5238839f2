"""`sharpeyes train` end to end on a tiny generated D-Fire-style dataset, offline.

One epoch at 64 px from `yolov8n.yaml` (no weights to fetch) in a child process whose sockets refuse
every connection and log the attempt: the command must exit 0 without trying the network, and the ONNX
it writes must load in our `onnx` backend with D-Fire's classes and return a result on a camera frame.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from detectors.base import build_detector
from detectors.config import parse_detector_config
from detectors.types import DetectionResult
from ingest.types import Frame
from sharpeyes.cli import main
from sharpeyes.training.dataset import DatasetError, find_dataset

REPO = Path(__file__).resolve().parents[2]

# Runs `sharpeyes train` with the network cut off: any lookup or connection is logged to NET_LOG and fails.
GUARDED_MAIN = textwrap.dedent(
    """
    import os, socket, sys
    log = os.environ["NET_LOG"]
    def refuse(what):
        def blocked(*args, **kwargs):
            with open(log, "a") as f:
                f.write(f"{what} {args[:2]!r}\\n")
            raise OSError(f"network use in a test: {what}")
        return blocked
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.create_connection = refuse("create_connection")
    plain_connect = socket.socket.connect
    def connect(self, address):
        if self.family == socket.AF_UNIX:
            return plain_connect(self, address)
        return refuse("connect")(address)
    socket.socket.connect = connect
    from sharpeyes.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def make_dataset(root: Path, layout: str = "ultralytics", n_train: int = 8, n_val: int = 2) -> Path:
    """Grey scenes with an orange 'flame' (class 1) and a pale 'plume' (class 0), plus one negative."""
    rng = np.random.default_rng(7)
    for split, n in (("train", n_train), ("val", n_val)):
        images = root / ("images/" + split if layout == "ultralytics" else split + "/images")
        labels = root / ("labels/" + split if layout == "ultralytics" else split + "/labels")
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for i in range(n):
            image = np.full((96, 128, 3), rng.integers(60, 120), np.uint8)
            rows = []
            if i:  # image 0 is a negative with no label file, as in D-Fire
                for cls, colour in ((1, (0, 110, 255)), (0, (200, 200, 200))):
                    w, h = (int(v) for v in rng.integers(16, 40, 2))
                    x, y = int(rng.integers(0, 128 - w)), int(rng.integers(0, 96 - h))
                    cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
                    rows.append(
                        f"{cls} {(x + w / 2) / 128:.5f} {(y + h / 2) / 96:.5f} {w / 128:.5f} {h / 96:.5f}"
                    )
                (labels / f"{i}.txt").write_text("\n".join(rows) + "\n")
            cv2.imwrite(str(images / f"{i}.jpg"), image)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    base = tmp_path_factory.mktemp("train")
    data, out, net_log = make_dataset(base / "dfire"), base / "out", base / "net.log"
    env = {
        **os.environ,
        "NET_LOG": str(net_log),
        "YOLO_CONFIG_DIR": str(base / "ultralytics-config"),  # no fonts or settings from the user's home
        "PYTHONPATH": str(REPO),
    }
    env.pop("YOLO_OFFLINE", None)  # the command itself must switch ultralytics offline
    args = [str(data), "--model", "yolov8n.yaml", "--epochs", "1", "--imgsz", "64", "--batch", "4"]
    args += ["--workers", "0", "--no-plots", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED_MAIN, "train", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=base,
    )
    return proc, out, net_log


def test_train_exits_zero_without_touching_the_network(trained) -> None:
    proc, out, net_log = trained
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not net_log.exists(), "network use:\n" + net_log.read_text()
    assert "train: 8 images, 7 labelled, boxes: smoke 7, fire 7" in proc.stdout
    assert (out / "run" / "weights" / "best.pt").is_file()


def test_export_loads_in_our_onnx_backend_with_dfire_classes(trained) -> None:
    proc, out, _ = trained
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = yaml.safe_load((out / "detector.yaml").read_text())["detectors"]["fire_smoke"]
    assert config == {
        "kind": "onnx",
        "model": str(out / "fire_smoke.onnx"),
        "classes": {"smoke": "smoke", "fire": "fire"},
    }
    detector = build_detector(parse_detector_config({**config, "conf": 0.001, "input_size": [96, 128]}))
    frame = Frame("CAM-T", 1, time.time(), time.monotonic_ns(), np.full((96, 128, 3), 90, np.uint8))
    (result,) = detector.detect([frame])
    assert isinstance(result, DetectionResult)
    assert result.frame is frame and result.detections.class_names == ("smoke", "fire")
    assert set(result.detections.class_ids.tolist()) <= {0, 1}


def test_dfire_layout_and_val_from_test_split(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "D-Fire", layout="dfire")
    (root / "val").rename(root / "test")
    dataset = find_dataset(root)
    assert dataset.val == (root / "test" / "images").resolve()
    assert dataset.stats["val"].images == 2 and dataset.stats["train"].labelled == 7


def test_label_with_unknown_class_is_refused_before_training(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    (root / "labels" / "train" / "1.txt").write_text("2 0.5 0.5 0.1 0.1\n")
    with pytest.raises(
        DatasetError, match=r"1\.txt: bad row '2 0\.5 0\.5 0\.1 0\.1' \(want 'class cx cy w h', 2 classes\)"
    ):
        find_dataset(root)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("yolov8n.pt", "no such file (sharpeyes train never downloads weights)"),
        ("model.onnx", "want a local .pt file or a model .yaml"),
    ],
)
def test_missing_or_unusable_base_model_is_refused(tmp_path: Path, capsys, model: str, message: str) -> None:
    root = make_dataset(tmp_path / "ds")
    assert main(["train", str(root), "--model", model, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
