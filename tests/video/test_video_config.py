"""Camera and detector config: the issue's example validates, built-in detectors fill in, and every bad
reference is reported with file:line and key path (what `sharpeyes check-config` prints)."""

from __future__ import annotations

import pytest

from detectors.config import ClassicalFireConfig, OnnxConfig
from sharpeyes.settings import ConfigError, parse_settings
from video.config import detector_configs, detector_for

HEAD = """\
grids:
  - {id: G-001, community: C-1, street: S-1}
  - {id: G-002, community: C-1, street: S-2}
"""

ISSUE_EXAMPLE = (
    HEAD
    + """\
cameras:
  - id: CAM-01
    url: "rtsp://user:${CAM01_PASSWORD}@camera-01.example/stream1"
    grid: G-001
    rules:
      - {kind: fire}
      - {kind: smoke}
      - {kind: crowd, threshold: 12, dwell_s: 3}
"""
)
ENV = {"CAM01_PASSWORD": "s3cret-pw", "SHARPEYES_ASSETS": "/assets"}


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "site.yaml", ENV if env is None else env)
    return str(info.value).splitlines()


def test_issue_example_validates_with_builtin_detectors() -> None:
    s = parse_settings(ISSUE_EXAMPLE, "site.yaml", ENV)
    [cam] = s.cameras
    assert (cam.id, cam.grid, cam.transport, cam.detect_fps) == ("CAM-01", "G-001", "tcp", 5.0)
    assert cam.url == "rtsp://user:s3cret-pw@camera-01.example/stream1"
    assert "s3cret-pw" not in repr(s) and "s3cret-pw" not in str(cam)
    assert [r.rule_id for r in cam.rules] == ["fire", "smoke", "crowd"]
    assert {k: detector_for(cam, k, s.video) for k in ("fire", "smoke", "crowd", "gathering")} == {
        "fire": "fire",
        "smoke": "fire",
        "crowd": "people",
        "gathering": "people",
    }
    builtins = detector_configs(s.detectors, ENV)
    assert isinstance(builtins["fire"], ClassicalFireConfig)
    people = builtins["people"]
    assert isinstance(people, OnnxConfig)
    assert str(people.model) == "/assets/weights/yolox_nano.onnx"


def test_declared_detector_and_camera_detector_override() -> None:
    text = (
        HEAD
        + """\
detectors:
  fire: {kind: classical_fire, sensitivity: 0.2}
  yolo-fire: {kind: onnx, model: /models/fire.onnx, class_names: [smoke, fire]}
cameras:
  - id: CAM-01
    url: /videos/a.mp4
    grid: G-001
    detector: yolo-fire
    rules: [{kind: fire}, {kind: crowd, threshold: 3}]
  - {id: CAM-02, url: "file:///videos/b.mp4", grid: G-002, rules: [{kind: fire}]}
"""
    )
    s = parse_settings(text, "site.yaml", ENV)
    one, two = s.cameras
    assert detector_for(one, "fire", s.video) == detector_for(one, "crowd", s.video) == "yolo-fire"
    assert detector_for(two, "fire", s.video) == "fire"
    assert detector_configs(s.detectors, ENV)["fire"].sensitivity == 0.2  # type: ignore[union-attr]


def test_bad_references_are_reported_with_lines() -> None:
    text = (
        HEAD
        + """\
detectors:
  yolo: {kind: onnx, model: /m.onnx}
cameras:
  - id: CAM-01
    url: rtsp://camera-01.example/s1
    grid: G-001
    zones:
      - {name: gate, polygon: [[0, 0], [10, 0], [10, 10]]}
      - {name: gate, polygon: [[0, 0], [10, 0], [10, 10]]}
    rules:
      - {kind: crowd, threshold: 5, zone: nowhere}
  - id: CAM-01
    url: rtsp://camera-02.example/s1
    grid: G-404
    detector: nope
    rules: [{kind: fire}, {kind: fire}]
"""
    )
    assert problems(text) == [
        "site.yaml:12 cameras[0].zones[1].name: duplicate zone 'gate'",
        "site.yaml:14 cameras[0].rules[0].zone: unknown zone 'nowhere'",
        "site.yaml:15 cameras[1].id: duplicate camera id 'CAM-01'",
        "site.yaml:17 cameras[1].grid: unknown grid 'G-404'",
        "site.yaml:18 cameras[1].detector: unknown detector 'nope'",
        "site.yaml:19 cameras[1].rules[1]: duplicate rule id 'fire': give one a `name`",
    ]


def test_button_linked_cameras_must_exist() -> None:
    text = (
        HEAD
        + """\
cameras:
  - {id: CAM-01, url: rtsp://camera-01.example/s1, grid: G-001}
buttons:
  - {id: B-001, grid: G-001, cameras: [CAM-01]}
  - id: B-002
    grid: G-002
    cameras: [CAM-01, CAM-09]
"""
    )
    assert problems(text) == ["site.yaml:10 buttons[1].cameras[1]: unknown camera 'CAM-09'"]


def test_unknown_default_detector_points_at_the_rule() -> None:
    text = (
        HEAD
        + """\
video:
  default_detectors: {crowd: heads}
cameras:
  - id: CAM-01
    url: rtsp://camera-01.example/s1
    grid: G-001
    rules:
      - {kind: crowd, threshold: 5}
"""
    )
    assert problems(text) == [
        "site.yaml:11 cameras[0].rules[0]: unknown detector 'heads' (video.default_detectors)"
    ]


@pytest.mark.parametrize(
    ("camera", "expected"),
    [
        (
            "{id: CAM-01, url: 'ftp://x/y', grid: G-001}",
            "cameras[0].url: unsupported camera URL scheme 'ftp' (use rtsp://",
        ),
        ("{id: ../etc, url: /a.mp4, grid: G-001}", "cameras[0].id: String should match pattern"),
        ("{id: CAM-01, url: /a.mp4, grid: G-001, transport: sctp}", "cameras[0].transport: Input should be"),
        ("{id: CAM-01, url: /a.mp4, grid: G-001, colour: red}", "cameras[0].colour: unknown key"),
        (
            "{id: CAM-01, url: /a.mp4, grid: G-001, rules: [{kind: flood}]}",
            "cameras[0].rules[0]: Input tag 'flood'",
        ),
        (
            "{id: CAM-01, url: /a.mp4, grid: G-001, detect_fps: 0}",
            "cameras[0].detect_fps: Input should be greater",
        ),
    ],
)
def test_invalid_camera_fields(camera: str, expected: str) -> None:
    [line] = problems(HEAD + f"cameras:\n  - {camera}\n")
    assert line.startswith(f"site.yaml:5 {expected}"), line


def test_unknown_detector_kind_and_unset_password_variable() -> None:
    text = HEAD + "detectors:\n  d1: {kind: tflite, model: /x}\n"
    [line] = problems(text)
    assert line.startswith("site.yaml:5 detectors.d1: Input tag 'tflite'"), line
    [line] = problems(ISSUE_EXAMPLE, {})
    assert line == "site.yaml:6 cameras[0].url: environment variable CAM01_PASSWORD is not set"
    assert "camera-01" not in line


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ({"url": "sqlite:///var/demo.db"}, "var/snapshots"),
        ({"url": "sqlite:////srv/se/se.db"}, "/srv/se/snapshots"),
        ({"url": "sqlite:///se.db"}, "./snapshots"),
        ({"url": "postgresql://se@db/se"}, "var/snapshots"),
        ({"url": "sqlite:///var/demo.db", "snapshots_dir": "/data/snaps"}, "/data/snaps"),
    ],
)
def test_snapshots_dir_defaults_next_to_the_database(storage: dict[str, str], expected: str) -> None:
    from alarms.config import StorageConfig

    assert StorageConfig(**storage).snapshots_path() == expected
