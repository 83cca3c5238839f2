"""Live video on loopback: WebRTC time-to-first-frame and glass-to-glass latency in Debian's Chromium.

The service process replays two file cameras: a B-frame-free clip (passed through) whose frames carry
their number as a 16-bit barcode burned in with ffmpeg, and a clip with B-frames (re-encoded once from
the camera reader's frames). A file camera's live source releases frame N at ``epoch + N / fps`` (it plays
the file in real time and reports ``epoch`` in GET /api/live), so it acts as a zero-latency camera; the
page reads the barcode of every displayed frame from a canvas and stamps it with the wall time it was
shown (requestVideoFrameCallback's expectedDisplayTime, on the wall clock). The frame's RTP timestamp names
it (a canvas may already hold a newer frame); the barcode ties RTP time to frame numbers.
glass-to-glass = shown − released.
TTFF is from creating the RTCPeerConnection to the first decoded frame, per view (the wall opens views
one after another, each a fresh peer connection).

    python benchmarks/live_video.py --seconds 15 --views 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alarms.storage.store import Store  # noqa: E402
from dashboard.users import UserStore  # noqa: E402
from tests.support.browser import launch, sign_in  # noqa: E402
from tests.support.clips import baseline_clip  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.service import TOKEN, Service, write_config  # noqa: E402

PASSWORD = "benchmark password"
FPS = 25
READ = """async ([seconds]) => {
  const v = document.querySelector("#wall-grid .live-tile[data-camera='BAR'] video");
  const c = document.createElement("canvas"); c.width = 640; c.height = 40;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  const out = [];
  const end = performance.now() + seconds * 1000;
  await new Promise((resolve) => {
    const step = (now, meta) => {
      ctx.drawImage(v, 0, 0, v.videoWidth, 40, 0, 0, 640, 40);
      const px = ctx.getImageData(0, 0, 640, 40).data;
      let n = 0;
      for (let i = 0; i < 16; i++) { if (px[(20 * 640 + i * 40 + 20) * 4] > 128) n |= 1 << i; }
      out.push([n, Date.now() + (meta.expectedDisplayTime - performance.now()), meta.rtpTimestamp]);
      if (performance.now() < end) v.requestVideoFrameCallback(step); else resolve();
    };
    v.requestVideoFrameCallback(step);
  });
  return out;
}"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<34} n={len(ms):4d}  p50={pct(ms, 0.5):7.1f} ms  p90={pct(ms, 0.9):7.1f} ms  "
        f"max={max(ms):7.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15.0, help="glass-to-glass sampling time")
    ap.add_argument("--views", type=int, default=10, help="fresh views opened per camera for TTFF")
    args = ap.parse_args()
    assets = REPO.parent / "shared" / "assets"
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        clip = baseline_clip(tmp / "barcode.mp4", seconds=120, fps=FPS, size="640x360", barcode=True)
        broker = Mosquitto(tmp / "mosquitto").start()
        db = tmp / "se.db"
        store = Store(f"sqlite:///{db}")
        store.migrate()
        UserStore(store).add("bench", PASSWORD, "operator")
        store.close()
        cameras = [
            {"id": "BAR", "url": str(clip), "grid": "G-001"},
            {"id": "BFR", "url": str(assets / "video" / "crosswalk_pedestrians.mp4"), "grid": "G-001"},
        ]
        cfg = write_config(
            tmp / "svc.yaml", mqtt_port=broker.port, webhook_url="http://127.0.0.1:9/x", db=db,
            extra={"cameras": cameras, "live_video": {"idle_stop_s": 60}},
        )  # fmt: skip
        svc = Service(tmp / "svc.yaml", cfg, tmp / "svc.log").start()
        try:
            time.sleep(2)  # the camera readers open their files
            with sync_playwright() as pw:
                browser = launch(pw)
                page = sign_in(browser, svc.base, "bench", PASSWORD)
                ttff: dict[str, list[float]] = {"BAR": [], "BFR": []}
                page.evaluate("localStorage.setItem('sharpeyes.pinned', JSON.stringify(['BAR', 'BFR']))")
                for i in range(args.views):  # each visit to the wall opens fresh peer connections
                    page.click("nav.tabs [data-view='wall']")
                    page.wait_for_selector("#wall-grid .live-tile[data-mode='webrtc'][data-camera='BAR']")
                    page.wait_for_selector("#wall-grid .live-tile[data-mode='webrtc'][data-camera='BFR']")
                    for cam in ttff:
                        sel = f"#wall-grid .live-tile[data-camera='{cam}']"
                        page.wait_for_selector(f"{sel}[data-ttff]")
                        ttff[cam].append(float(page.get_attribute(sel, "data-ttff") or "nan"))
                    if i < args.views - 1:
                        page.click("nav.tabs [data-view='queue']")
                samples = page.evaluate(READ, [args.seconds])
                live = httpx.get(f"{svc.base}/api/live", headers={"Authorization": f"Bearer {TOKEN}"}).json()
                browser.close()
        finally:
            svc.stop()
            broker.stop()
        epoch = live["sources"]["BAR"]["epoch"]
        # The canvas may hold a newer frame than the one the callback describes, so the frame's own RTP
        # timestamp names it; the barcode only ties RTP time to the file's frame numbers (median offset).
        tick = 90000 // FPS
        origin = sorted((rtp - n * tick) % 2**32 for n, _, rtp in samples)[len(samples) // 2]
        g2g = [shown - (epoch + ((rtp - origin) % 2**32) / 90000) * 1000 for _, shown, rtp in samples]
        agree = sum(((rtp - origin) % 2**32) == n * tick for n, _, rtp in samples) / len(samples)
        print(f"passthrough BAR transcoding={live['sources']['BAR']['transcoding']}, "
              f"re-encoded BFR transcoding={live['sources']['BFR']['transcoding']}")  # fmt: skip
        print(line("TTFF passthrough (warm source)", ttff["BAR"]))
        print(line("TTFF re-encoded (warm source)", ttff["BFR"]))
        print(line("glass-to-glass passthrough", g2g))
        print(f"frames read back: {len(samples)} in {args.seconds:g} s; barcode = RTP frame for {agree:.0%}")


if __name__ == "__main__":
    main()
