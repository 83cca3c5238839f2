"""Detector config: the discriminated union, strictness, path expansion, cross-field checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from detectors.base import build_detector, register, registered_kinds
from detectors.config import (
    ClassicalFireConfig,
    DensityConfig,
    OnnxConfig,
    UltralyticsConfig,
    parse_detector_config,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("data", "expected_type"),
    [
        ({"kind": "onnx", "model": "m.onnx"}, OnnxConfig),
        ({"kind": "ultralytics", "model": "fire.pt", "classes": {"fire": "fire"}}, UltralyticsConfig),
        ({"kind": "classical_fire", "sensitivity": 0.7}, ClassicalFireConfig),
        ({"kind": "density", "model": "mcnn.h5", "input_scale": 0.5}, DensityConfig),
    ],
)
def test_kind_selects_the_backend_model(data: dict, expected_type: type) -> None:
    assert isinstance(parse_detector_config(data), expected_type)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "onnx", "model": "m.onnx", "treshold": 0.3}, "Extra inputs are not permitted"),
        ({"kind": "yolo", "model": "m.onnx"}, "does not match any of the expected tags"),
        ({"kind": "onnx", "model": "m.onnx", "input_size": [300, 640]}, "multiples of 32"),
        ({"kind": "onnx", "model": "m.onnx", "conf": 0}, "greater than 0"),
        ({"kind": "onnx", "model": "m.onnx", "class_names": ["a", "b"], "classes": {"c": "c"}}, "not in"),
        ({"kind": "ultralytics", "model": "m.pt", "imgsz": 650}, "multiples of 32"),
        ({"kind": "classical_fire", "sensitivity": 1.5}, "less than or equal to 1"),
        ({"kind": "density", "model": "${SHARPEYES_TEST_UNSET_VAR}/a.h5"}, "is not set"),
    ],
)
def test_bad_config_is_rejected_with_a_reason(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_detector_config(data)


def test_paths_expand_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHARPEYES_TEST_WEIGHTS", str(tmp_path))
    config = parse_detector_config({"kind": "onnx", "model": "${SHARPEYES_TEST_WEIGHTS}/yolox.onnx"})
    assert config.model == tmp_path / "yolox.onnx"
    assert config.label == "onnx:yolox"


def test_square_input_size_shorthand() -> None:
    config = parse_detector_config({"kind": "onnx", "model": "m.onnx", "input_size": 320})
    assert config.input_size == (320, 320)


@pytest.mark.parametrize("kind", ["onnx", "ultralytics", "density"])
def test_missing_weights_fail_at_build_with_the_path(kind: str, tmp_path: Path) -> None:
    config = parse_detector_config({"kind": kind, "model": str(tmp_path / "nope.bin")})
    with pytest.raises(FileNotFoundError, match=r"nope\.bin"):
        build_detector(config)


def test_registry_knows_builtin_kinds_and_rejects_unknown() -> None:
    assert {"onnx", "ultralytics", "classical_fire", "density"} <= set(registered_kinds())

    class Fake:
        kind = "no-such-kind"

    with pytest.raises(ValueError, match="unknown detector kind 'no-such-kind'"):
        build_detector(Fake())


def test_register_refuses_a_second_factory_for_a_kind() -> None:
    @register("test-only-kind")
    def first(config: object) -> object:
        return config

    assert register("test-only-kind")(first) is first  # re-registering the same factory is harmless
    with pytest.raises(ValueError, match="already registered"):
        register("test-only-kind")(lambda config: config)


def test_importing_detectors_is_light_and_respects_layers() -> None:
    """Heavy runtimes load only when a detector is built; detectors never imports higher layers."""
    code = (
        "import sys\n"
        "import detectors.base, detectors.config, detectors.onnx_yolo, detectors.ultralytics_backend, "
        "detectors.density, detectors.classical_fire, detectors.motion, detectors.zones, detectors.batcher\n"
        "heavy = {'onnxruntime', 'onnx', 'ultralytics', 'torch', 'h5py', 'openvino'} & set(sys.modules)\n"
        "higher = {m for m in sys.modules if m.split('.')[0] in {'alarms', 'dashboard', 'sharpeyes'}}\n"
        "assert not heavy and not higher, (heavy, higher)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
