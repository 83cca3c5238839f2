"""Incident to screen: N presses from N different buttons (each opens a new incident) against a real
mosquitto and the service process, with an operator signed in to the page in Debian's Chromium. The page
stamps when each incident's row is first painted; the service stamps each change when it commits. We
report commit → painted (the issue's "stored → visible") and press (publish) → painted.

    python benchmarks/page_latency.py --presses 100 --gap 0.2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alarms.storage.store import Store  # noqa: E402
from dashboard.users import UserStore  # noqa: E402
from sharpeyes.receiver import DispatchReceiver  # noqa: E402
from tests.support.browser import launch, sign_in  # noqa: E402
from tests.support.buttons import ButtonSim  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.service import SECRET, Service, write_config  # noqa: E402

PASSWORD = "benchmark password"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(name: str, ms: list[float]) -> str:
    return (
        f"{name:<26} n={len(ms):4d}  p50={pct(ms, 0.5):7.1f} ms  p99={pct(ms, 0.99):7.1f} ms  "
        f"max={max(ms):7.1f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presses", type=int, default=100)
    ap.add_argument("--gap", type=float, default=0.2, help="seconds between presses")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="page-latency-") as tmp_dir:
        tmp = Path(tmp_dir)
        db = tmp / "se.db"
        store = Store(f"sqlite:///{db}")
        store.migrate()
        UserStore(store).add("bench", PASSWORD, "operator")
        store.close()
        broker = Mosquitto(tmp / "mosquitto").start()
        receiver = DispatchReceiver(SECRET).start()
        buttons = [
            {"id": f"B-{i:03d}", "grid": "G-001" if i % 2 else "G-002"} for i in range(1, args.presses + 1)
        ]
        cfg_path = tmp / "svc.yaml"
        cfg = write_config(
            cfg_path, mqtt_port=broker.port, webhook_url=receiver.url, db=db, extra={"buttons": buttons}
        )
        svc = Service(cfg_path, cfg, tmp / "svc.log").start()
        sim = ButtonSim(broker.port, client_id="bench-page")
        try:
            with sync_playwright() as pw:
                browser = launch(pw)
                page = sign_in(browser, svc.base, "bench", PASSWORD)
                sent: dict[str, float] = {}
                for b in buttons:
                    sent[b["id"]] = time.time()
                    sim.send(b["id"], seq=1)
                    time.sleep(args.gap)
                page.wait_for_function(
                    f"Object.keys(window.__sharpeyes.seen).length >= {args.presses}", timeout=30000
                )
                seen = page.evaluate("window.__sharpeyes.seen")
                incidents = {i["id"]: i for i in svc.get("/api/incidents", limit=1000).json()["items"]}
                browser.close()
        finally:
            sim.close()
            svc.stop()
            receiver.stop()
            broker.stop()

    commit_ms = [s["at"] - s["committed_at"] * 1000 for s in seen.values() if s["committed_at"]]
    press_ms = [s["at"] - sent[incidents[int(i)]["source_id"]] * 1000 for i, s in seen.items()]
    print(f"{args.presses} presses, {args.gap * 1000:.0f} ms apart, one operator page (headless Chromium)")
    print(summary("stored (commit) → painted", commit_ms))
    print(summary("press → painted", press_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
