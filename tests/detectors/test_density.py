"""MCNN crowd density rebuilt as ONNX from the HDF5 weights: counts on ShanghaiTech A images."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.base import build_detector
from detectors.config import parse_detector_config
from detectors.density import DensityDetector
from detectors.zones import PolygonZone


def build(media, weights: str, **options) -> DensityDetector:
    config = parse_detector_config({"kind": "density", "model": str(media.path(weights)), **options})
    detector = build_detector(config)
    assert isinstance(detector, DensityDetector)
    return detector


@pytest.fixture(scope="module")
def mcnn_a(media) -> DensityDetector:
    return build(media, "weights/mcnn_shtechA_660.h5")


# The reference (svishwa/crowdcount-mcnn in torch) estimates 1030 and 348 for these images (true 1546, 413).
@pytest.mark.parametrize(
    ("image", "reference"), [("images/crowd/IMG_1.jpg", 1030), ("images/crowd/IMG_4.jpg", 348)]
)
def test_counts_match_the_reference_implementation(media, mcnn_a, image, reference) -> None:
    (result,) = mcnn_a.detect([media.frame(image)])
    assert result.extras.count == pytest.approx(reference, rel=0.02)
    assert len(result.detections) == 0 and result.model == "density:mcnn_shtechA_660"
    small = result.extras.density
    assert small.shape[1] == 64 and small.dtype == np.float32
    assert float(small.sum()) == pytest.approx(result.extras.count, rel=1e-3)


def test_same_size_frames_share_one_call_and_keep_order(media, mcnn_a) -> None:
    dense, sparse = media.frame("images/crowd/IMG_1.jpg", "a"), media.frame("images/crowd/IMG_4.jpg", "b")
    results = mcnn_a.detect([dense, sparse, dense])
    assert [r.frame.camera_id for r in results] == ["a", "b", "a"]
    assert results[0].extras.count == pytest.approx(results[2].extras.count, rel=1e-4)
    assert results[0].extras.count > 2 * results[1].extras.count


@pytest.mark.parametrize(("scale", "low", "high"), [(1.0, 1000, 1060), (0.5, 200, 400)])
def test_input_scale_shifts_the_count(media, scale, low, high) -> None:
    """MCNN's density is learnt at the dataset's pixel scale: shrinking the input undercounts dense crowds,
    so `input_scale` < 1 buys speed (4× at 0.5) at the price of calibration."""
    detector = build(media, "weights/mcnn_shtechA_660.h5", input_scale=scale)
    (result,) = detector.detect([media.frame("images/crowd/IMG_1.jpg")])
    assert low < result.extras.count < high


def test_zone_sums_the_density_map_over_its_polygon(media, mcnn_a) -> None:
    frame = media.frame("images/crowd/IMG_4.jpg")
    (result,) = mcnn_a.detect([frame])
    height, width = frame.image.shape[:2]
    left = PolygonZone([(0, 0), (width / 2, 0), (width / 2, height), (0, height)], (width, height))
    right = PolygonZone([(width / 2, 0), (width, 0), (width, height), (width / 2, height)], (width, height))
    total = left.count_in_density(result.extras.density) + right.count_in_density(result.extras.density)
    assert total == pytest.approx(result.extras.count, rel=0.02)


def test_wrong_hdf5_is_a_clear_error(tmp_path) -> None:
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["something"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an MCNN checkpoint"):
        build_detector(parse_detector_config({"kind": "density", "model": str(path)}))
