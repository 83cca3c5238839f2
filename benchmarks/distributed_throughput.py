"""Same video load through `local` and `ray` (1 and 2 nodes): analysed frames/s, CPU, cameras per core.

Why: docs/SCALING.md needs cameras per shard and per core measured here, and whether Ray and JetStream cost
anything over the single process. K file cameras loop the shared clips (decoded at their source frame rate,
offered to the classical fire detector at `--fps`), and every observation goes to a private JetStream
(nats-server on a free port) in every mode, so only the placement differs:

- **local**: one `CameraShard` (the video pipeline + JetStream publisher) in this process, no Ray;
- **ray1**: a one-node `ray.cluster_utils.Cluster`, `--shards` shard actors;
- **ray2**: the same on a two-node cluster (both nodes on this machine: it shows overhead, not speed-up).

CPU is the sum over the processes doing the camera work (this one for local, the `ray::CameraShard` actor
workers for ray), so other load on the machine does not count.

    .venv/bin/python benchmarks/distributed_throughput.py [--cameras 4] [--seconds 20] [--fps 5]
        [--modes local,ray1,ray2] [--shards 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ASSETS = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
CLIPS = ("market_street_1906_pd", "crosswalk_pedestrians", "fire_aerial_wildfire", "fire_room_getty")


def settings_doc(k: int, fps: float, shards: int, nats_url: str, tmp: Path) -> dict[str, Any]:
    cams = [
        {
            "id": f"CAM-{i:03d}",
            "url": f"file://{ASSETS}/video/{CLIPS[i % len(CLIPS)]}.mp4",
            "grid": "G-001",
            "detect_fps": fps,
            "detector": "fire",
            "rules": [{"kind": "fire"}, {"kind": "smoke"}],
        }
        for i in range(k)
    ]
    return {
        "storage": {"url": f"sqlite:///{tmp}/unused.db", "snapshots_dir": str(tmp / "snapshots")},
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
        "detectors": {"fire": {"kind": "classical_fire", "sensitivity": 0.5}},
        "cameras": cams,
        "runtime": "ray",
        "distributed": {
            "shards": shards,
            "nats_url": nats_url,
            "shard_num_cpus": 0.1,
            "namespace": f"bench-{os.getpid()}",
        },
    }


def cpu_of(procs: list[Any]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # a process gone mid-measurement counts no more
            pass
    return total


def measure(frames: Any, procs: Any, seconds: float, warmup: float) -> dict[str, float]:
    time.sleep(warmup)
    f0, c0, t0 = frames(), cpu_of(procs()), time.monotonic()
    time.sleep(seconds)
    f1, c1, t1 = frames(), cpu_of(procs()), time.monotonic()
    return {"analysed_fps": (f1 - f0) / (t1 - t0), "busy_cores": (c1 - c0) / (t1 - t0)}


def run_local(doc: dict[str, Any], seconds: float, warmup: float) -> dict[str, float]:
    import psutil

    from sharpeyes.distributed.shard_actor import CameraShard

    shard = CameraShard(0, {k: v for k, v in doc.items() if k != "cameras"}, doc["cameras"])
    try:
        me = psutil.Process()

        def frames() -> int:
            return sum(c["analysed"] for c in shard.status()["cameras"].values())

        return measure(frames, lambda: [me], seconds, warmup)
    finally:
        shard.stop()


def run_ray(doc: dict[str, Any], nodes: int, seconds: float, warmup: float) -> dict[str, float]:
    import psutil
    import ray
    from ray.cluster_utils import Cluster

    from sharpeyes.distributed.reconciler import Reconciler
    from sharpeyes.settings import Settings

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2 // nodes or 1,
            "include_dashboard": False,
            "object_store_memory": 80 * 1024 * 1024,
        },
    )
    rec = None
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
        cluster.wait_for_nodes()
        settings = Settings.model_validate(doc)
        ray.init(address=cluster.address, namespace=settings.distributed.namespace, log_to_driver=False)
        rec = Reconciler(settings)
        rec.reconcile()
        pids = {s["pid"] for s in rec.status().values()}
        procs = [psutil.Process(p) for p in pids]

        def frames() -> int:
            return sum(c["analysed"] for s in rec.status().values() for c in s["cameras"].values())

        return measure(frames, lambda: procs, seconds, warmup)
    finally:
        if rec is not None:
            rec.shutdown()
        ray.shutdown()
        cluster.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--modes", default="local,ray1,ray2")
    ap.add_argument("--json")
    args = ap.parse_args()

    from tests.support.nats_server import start_nats

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        nats = start_nats(tmp / "js")
        try:
            doc = settings_doc(args.cameras, args.fps, args.shards, nats.url, tmp)
            for mode in args.modes.split(","):
                if mode == "local":
                    r = run_local(doc, args.seconds, args.warmup)
                else:
                    r = run_ray(doc, int(mode.removeprefix("ray")), args.seconds, args.warmup)
                offered = args.cameras * args.fps
                r |= {
                    "cameras": args.cameras,
                    "offered_fps": offered,
                    "cameras_per_core": args.cameras
                    * min(1.0, r["analysed_fps"] / offered)
                    / r["busy_cores"],
                }
                results[mode] = r
                print(
                    f"{mode:6s} K={args.cameras} analysed {r['analysed_fps']:6.1f}/{offered:.0f} fps  "
                    f"busy {r['busy_cores']:.2f} cores  → {r['cameras_per_core']:.1f} cameras/core",
                    flush=True,
                )
        finally:
            nats.stop()
    base = results.get("local")
    for mode, r in results.items():
        if base is not None and mode != "local":
            cost, base_cost = r["busy_cores"] / r["analysed_fps"], base["busy_cores"] / base["analysed_fps"]
            print(
                f"{mode}/local: throughput {r['analysed_fps'] / base['analysed_fps']:.2f}, "
                f"CPU per analysed frame {cost / base_cost:.2f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
