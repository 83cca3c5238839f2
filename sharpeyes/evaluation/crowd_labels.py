"""Counting labels from ShanghaiTech-style head annotations: one label file for a folder of images.

Why: the part A goal (MAE ≤ 90 on images not used for tuning) can only be measured on the 182 test
images, which are not in our assets (we hold two). When a folder of them (`IMG_k.jpg` beside
`GT_IMG_k.mat`) is put under the assets, this writes the label file the counting suite reads, so the
measurement is one command:

    .venv/bin/python -m sharpeyes.evaluation.crowd_labels images/crowd/sht_a_test \\
        --out eval/labels/sht_a_test.yaml
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from sharpeyes.evaluation.suite import assets_dir

_IMAGE = re.compile(r"^IMG_(\d+)\.jpg$", re.IGNORECASE)


def head_points(mat_path: Path) -> int:
    """Number of annotated heads in a ShanghaiTech `GT_IMG_k.mat` (`image_info[0,0][0,0][0]`, N×2)."""
    try:
        import scipy.io
    except ImportError as exc:  # scipy is in the `test` extra, not the service's dependencies
        raise RuntimeError("reading .mat annotations needs scipy: pip install 'sharpeyes[test]'") from exc

    try:
        points = scipy.io.loadmat(mat_path)["image_info"][0, 0][0, 0][0]
    except (KeyError, IndexError, ValueError, scipy.io.matlab.MatReadError) as exc:
        raise ValueError(f"{mat_path} is not a ShanghaiTech head annotation ({exc})") from exc
    return len(points)


def label_items(folder: Path, root: Path) -> list[dict[str, Any]]:
    """One item per `IMG_k.jpg` with its `GT_IMG_k.mat`, in k order; media paths relative to `root`."""
    items = []
    images = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _IMAGE.match(p.name))]
    for _, image in sorted(images):
        mat = image.with_name(f"GT_{image.stem}.mat")
        if not mat.is_file():
            raise ValueError(f"{image} has no annotation {mat.name} beside it")
        count = head_points(mat)
        source = f"{mat.relative_to(root)} ({count} head points)"
        items.append({"media": str(image.relative_to(root)), "count": count, "source": source})
    if not items:
        raise ValueError(f"no IMG_k.jpg images in {folder}")
    return items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", help="folder of IMG_k.jpg + GT_IMG_k.mat, relative to the assets folder")
    parser.add_argument("--out", required=True, type=Path, help="label file to write")
    args = parser.parse_args(argv)
    root = assets_dir()
    items = label_items(root / args.folder, root)
    header = f"# Head counts from the ShanghaiTech annotations in {args.folder} (crowd_labels.py).\n"
    args.out.write_text(header + yaml.safe_dump({"items": items}, sort_keys=False, allow_unicode=True))
    sys.stdout.write(f"{len(items)} images, {sum(i['count'] for i in items)} heads → {args.out}\n")


if __name__ == "__main__":
    main()
