"""Small synthetic H.264 clips made with Debian's ffmpeg for the live-video tests and benchmark."""

from __future__ import annotations

import subprocess
from pathlib import Path

# The frame number as 16 black/white blocks across the top 40 rows (bit i at x = 40*i … 40*i+39): the page
# reads it back from a canvas, so glass-to-glass needs no OCR.
BARCODE = (
    "geq=lum='if(lt(Y,40), if(bitand(N, pow(2, floor(X/40))), 235, 16), lum(X,Y))'"
    ":cb='if(lt(Y,40),128,cb(X,Y))':cr='if(lt(Y,40),128,cr(X,Y))'"
)


def baseline_clip(
    path: Path, seconds: int = 8, fps: int = 25, size: str = "480x270", barcode: bool = False
) -> Path:
    """A B-frame-free H.264 clip with a keyframe a second (what most IP cameras send): it is passed through
    to the browser unchanged. ``barcode`` burns the frame number in (see BARCODE)."""
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={fps}:duration={seconds}",
    ]
    if barcode:
        cmd += ["-vf", BARCODE]
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-bf",
        "0",
        "-g",
        str(fps),
        "-pix_fmt",
        "yuv420p",
        str(path),
    ]
    subprocess.run(cmd, check=True, timeout=300)
    return path
