"""A vendor's ONNX with its own class names and input size, mapped by config; weights that do not fit.

The vendor model (tests/support/tiny_onnx.py) has classes `person, Smoke, Flame`, a fixed 256×320 input
and no names in its metadata. Mapped with `--class-names` and `--classes Flame=fire,Smoke=smoke` it finds
the room fire through `sharpeyes eval`; without the names, with a wrong size, or with a map that feeds no
fire/smoke rule, the command says what is wrong and how to fix it, in English or Chinese. Broken weights
switched in for one camera leave the rest of the video pipeline running.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from sharpeyes.cli import main
from sharpeyes.evaluation.candidate import from_weights
from tests.support.pipeline import incident_engine, incident_rows, video_pipeline
from tests.support.rtsp import wait_for
from tests.support.tiny_onnx import classifier, colour_detector, decoded_colour_detector
from video.config import CameraConfig

REPO = Path(__file__).resolve().parents[2]
VENDOR_MAP = ["--class-names", "person,Smoke,Flame", "--classes", "Flame=fire,Smoke=smoke"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled suite (room fire, 4 s; street, 4 s, negative) and the weights files beside it."""
    root = tmp_path_factory.mktemp("vendor")
    (root / "labels").mkdir()
    room = {"media": "video/fire_room_getty.mp4", "events": [{"kind": "fire", "start": 0.0, "end": None}]}
    (root / "labels" / "room.yaml").write_text(yaml.safe_dump(room))
    (root / "labels" / "street.yaml").write_text(yaml.safe_dump({"media": "video/crosswalk_pedestrians.mp4"}))
    rules = [{"kind": "fire"}, {"kind": "smoke"}]
    suite = {
        "name": "district",
        "event_kinds": ["fire"],
        "video": {"tamper": {"enabled": False}},
        "clips": [
            {"name": "room", "labels": "labels/room.yaml", "end_s": 4, "camera": {"rules": rules}},
            {"name": "street", "labels": "labels/street.yaml", "end_s": 4, "camera": {"rules": rules}},
        ],
        "floors": {"events.fire.recall": 1.0},
        "ceilings": {"events.fire.false_alarms": 0},
    }
    (root / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    colour_detector(root / "vendor.onnx")
    decoded_colour_detector(root / "v5.onnx")  # classes smoke, fire; no names in the file
    wrong = {
        "kind": "onnx",
        "model": str(root / "v5.onnx"),
        "arch": "yolox",
        "class_names": ["smoke", "fire"],
    }
    (root / "v5_as_yolox.yaml").write_text(yaml.safe_dump(wrong))
    classifier(root / "classifier.onnx")
    (root / "junk.onnx").write_bytes(b"\x00 not a model \xff" * 200)
    return root


def test_vendor_onnx_mapped_by_config_finds_the_fire(site: Path, assets: Path) -> None:
    out = site / "report.json"
    args = ["eval", "suite.yaml", "--weights", "vendor.onnx", *VENDOR_MAP, "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=site,
        env={**os.environ, "PYTHONPATH": str(REPO), "SHARPEYES_ASSETS": str(assets)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    candidate = report["detectors"]["candidate"]
    assert candidate["model"] == str(site / "vendor.onnx")  # relative to where the command ran
    assert candidate["classes"] == ["fire", "smoke"] and candidate["serves"] == ["fire", "smoke"]
    fire = report["events"]["fire"]
    assert (fire["events"], fire["detected"], fire["false_alarms"]) == (1, 1, 0)
    assert "limits: 2/2 met" in proc.stdout


def test_the_same_vendor_file_through_a_detector_entry(site: Path, assets: Path, monkeypatch, capsys) -> None:
    """What goes into the service config, tried first with `--detector`: class_names and classes."""
    entry = {
        "kind": "onnx",
        "model": str(site / "vendor.onnx"),
        "class_names": ["person", "Smoke", "Flame"],
        "classes": {"Flame": "fire", "Smoke": "smoke"},
        "input_size": [256, 320],
    }
    (site / "vendor.yaml").write_text(yaml.safe_dump({"detectors": {"vendor_fire": entry}}))
    monkeypatch.setenv("SHARPEYES_ASSETS", str(assets))
    assert main(["eval", str(site / "suite.yaml"), "--detector", str(site / "vendor.yaml")]) == 0
    assert "limits: 2/2 met" in capsys.readouterr().out


def test_yolov5_style_export_is_recognised_and_finds_the_fire(
    site: Path, assets: Path, monkeypatch, capsys
) -> None:
    """Decoded boxes, three anchors per cell: the same [1, N, 5 + classes] shape as YOLOX, told apart by N."""
    monkeypatch.chdir(site)
    monkeypatch.setenv("SHARPEYES_ASSETS", str(assets))
    assert main(["eval", "suite.yaml", "--weights", "v5.onnx", "--class-names", "smoke,fire"]) == 0
    out = capsys.readouterr().out
    assert "candidate: onnx:v5 (onnx, " in out and "limits: 2/2 met" in out


@pytest.mark.parametrize(
    ("args", "lang", "message"),
    [
        (["--weights", "missing.onnx"], "en_US.UTF-8", "model file {site}/missing.onnx not found"),
        (["--weights", "missing.onnx"], "zh_CN.UTF-8", "找不到模型文件 {site}/missing.onnx"),
        (
            ["--weights", "missing.onnx", "--lang", "zh-CN"],
            "en_US.UTF-8",
            "找不到模型文件 {site}/missing.onnx",
        ),
        (
            ["--weights", "vendor.onnx", "--classes", "Flame="],
            "en_US.UTF-8",
            "want MODEL_CLASS=OUR_CLASS pairs",
        ),
        (
            ["--weights", "vendor.onnx", "--for", "fire,flood"],
            "en_US.UTF-8",
            "--for 'fire,flood': rule kinds",
        ),
        (["--weights", "junk.onnx"], "en_US.UTF-8", "{site}/junk.onnx is not a readable ONNX model: "),
        (["--weights", "junk.onnx"], "zh_CN.UTF-8", "{site}/junk.onnx 不是可读取的 ONNX 模型："),
        (
            ["--weights", "classifier.onnx"],
            "en_US.UTF-8",
            "cannot tell the architecture from output shape [1, 3] with 80 classes",
        ),
        (["--weights", "classifier.onnx"], "zh_CN.UTF-8", "分类或分割模型不能使用"),
        (
            ["--weights", "vendor.onnx"],
            "en_US.UTF-8",
            "the model outputs 3 classes but 80 class names are configured (the COCO default: the model "
            "carries no class names); list the model's classes in id order in class_names",
        ),
        (
            ["--weights", "vendor.onnx"],
            "zh_CN.UTF-8",
            "模型输出 3 个类别，但配置了 80 个类别名（默认的 COCO 类别：模型未携带类别名）",
        ),
        (
            ["--weights", "vendor.onnx", *VENDOR_MAP, "--input-size", "384,640"],
            "en_US.UTF-8",
            "this graph only runs at (256, 320); drop input_size or set it to (256, 320)",
        ),
        (
            ["--weights", "vendor.onnx", "--class-names", "person,Smoke,Flame", "--classes", "person"],
            "zh_CN.UTF-8",
            "candidate：模型的类别 ['person'] 中没有 fire, smoke，相应规则永远不会触发",
        ),
        (
            ["--detector", "v5_as_yolox.yaml"],
            "zh_CN.UTF-8",
            "输出有 5040 行，而该输入尺寸下的 yolox 模型应有 1680 行；模型结构不是 yolox",
        ),
        (
            ["--weights", "vendor.onnx", "--class-names", "person,Smoke,Flame", "--classes", "Fire=fire"],
            "en_US.UTF-8",
            "classes ['Fire'] are not in class_names",
        ),
    ],
)
def test_weights_that_do_not_fit_are_refused_in_the_users_language(
    site: Path, assets: Path, monkeypatch, capsys, args: list[str], lang: str, message: str
) -> None:
    monkeypatch.chdir(site)
    monkeypatch.setenv("SHARPEYES_ASSETS", str(assets))
    monkeypatch.delenv("SHARPEYES_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", lang)
    assert main(["eval", "suite.yaml", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("eval: ") and message.format(site=site) in captured.err
    assert "Traceback" not in captured.err


def test_pt_weights_run_in_the_ultralytics_backend(tmp_path: Path) -> None:
    pt = from_weights(str(tmp_path / "best.pt"), classes="Flame=fire", input_size="384,640", conf=0.1)
    assert pt.config == {
        "kind": "ultralytics",
        "model": str(tmp_path / "best.pt"),
        "classes": {"Flame": "fire"},
        "imgsz": [384, 640],
        "conf": 0.1,
    }
    with pytest.raises(ValueError, match="--class-names is for ONNX files"):
        from_weights("best.pt", class_names="a,b")


def test_broken_weights_switch_off_one_cameras_rules_and_the_rest_keeps_running(
    site: Path, assets: Path, tmp_path: Path, caplog
) -> None:
    from sharpeyes.settings import Settings

    declared = Settings.model_validate(
        {
            "detectors": {
                "vendor_fire": {
                    "kind": "onnx",
                    "model": str(site / "vendor.onnx"),
                    "class_names": ["person", "Smoke", "Flame"],
                    "classes": {"Flame": "fire", "Smoke": "smoke"},
                },
                "broken_fire": {"kind": "onnx", "model": str(site / "junk.onnx")},
            }
        }
    ).detectors
    cameras = [
        CameraConfig.model_validate(
            {
                "id": "ROOM",
                "url": f"file://{assets}/video/fire_room_getty.mp4",
                "grid": "G-001",
                "detectors": {"fire": "vendor_fire"},
                "rules": [{"kind": "fire"}],
            }
        ),
        CameraConfig.model_validate(
            {
                "id": "STREET",
                "url": f"file://{assets}/video/crosswalk_pedestrians.mp4",
                "grid": "G-001",
                "detectors": {"fire": "broken_fire", "smoke": "broken_fire"},
                "rules": [{"kind": "fire"}, {"kind": "smoke"}, {"kind": "crowd", "threshold": 100}],
            }
        ),
    ]
    engine, directory = incident_engine(tmp_path / "se.db")
    registry = CollectorRegistry()
    video = video_pipeline(
        cameras, engine, directory, tmp_path / "snaps", declared=declared, registry=registry
    )
    with caplog.at_level(logging.ERROR, logger="video.pipeline"):
        video.start()
        try:
            assert wait_for(lambda: any(r["category"] == "fire" for r in incident_rows(engine)), 30, 0.2)
            assert wait_for(lambda: video.status()[1].analysed_frames > 0, 10, 0.1)
            status = {c.id: c.model_dump() for c in video.status()}
        finally:
            video.stop()
    [fire] = [r for r in incident_rows(engine) if r["category"] == "fire"]
    assert fire["source_id"] == "ROOM"
    broken = status["STREET"]["detectors"]["broken_fire"]
    assert broken["running"] is False
    assert f"{site}/junk.onnx is not a readable ONNX model" in broken["error"]
    assert status["STREET"]["detectors"]["people"] == {"running": True, "error": None}
    assert status["STREET"]["state"] == "online"
    assert registry.get_sample_value("sharpeyes_video_errors_total", {"stage": "detector_load"}) == 1
    logged = [r.getMessage() for r in caplog.records if "broken_fire" in r.getMessage()]
    assert len(logged) == 1 and "its rules are off" in logged[0]
