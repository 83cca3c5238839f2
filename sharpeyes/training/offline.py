"""Keep ultralytics from reaching the network while it trains and exports.

Left alone it would: check for updates and send usage events (stopped by `YOLO_OFFLINE`, which must be set
before `ultralytics` is imported), download `Arial.ttf` when it validates a dataset (a local font is put
where it looks first), fetch `yolov8n.pt`-style weights named but not present (refused in `train.py`), and
download a model for its AMP check on GPUs (`amp_setting` never asks for that check).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def set_offline_env() -> None:
    """Call before importing ultralytics; an explicit `YOLO_OFFLINE=0` from the user is respected."""
    os.environ.setdefault("YOLO_OFFLINE", "1")


def provide_fonts() -> None:
    """Matplotlib's bundled DejaVu Sans stands in for the Arial files ultralytics would otherwise download."""
    import matplotlib
    from ultralytics.utils import USER_CONFIG_DIR

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = Path(USER_CONFIG_DIR) / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(font, target)


def amp_setting(device: str, amp: str) -> bool | str:
    """ultralytics' `amp` argument. `auto`: bf16 on GPUs that have it (no AMP check, so no download), else
    fp32; `fp16` runs ultralytics' own check, which needs its check model (downloaded if not cached)."""
    if amp == "off" or device == "cpu":
        return False
    if amp == "fp16":
        return True
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else False
