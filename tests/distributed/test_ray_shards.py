"""Camera shards on a real two-node Ray cluster, publishing to a real JetStream, consumed into PostgreSQL.

One scenario, in order (a Ray cluster costs seconds to start on two cores): shards come up and raise fire
incidents; a killed shard is restarted by Ray and its cameras resume (timed); the restarted owner's repeats
give no second incident; a camera added to the config starts on its shard only; a removed node's shard moves
to the other node (timed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from ray.cluster_utils import Cluster

from sharpeyes.distributed.reconciler import Reconciler
from sharpeyes.distributed.shards import shard_of
from sharpeyes.settings import Settings
from tests.distributed.conftest import incident_rows
from tests.support.nats_server import NatsServer

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
SHARDS = 2


def camera(cam_id: str, clip: str, grid: str = "G-001") -> dict[str, Any]:
    return {
        "id": cam_id,
        "url": f"file://{clip}",
        "grid": grid,
        "detect_fps": 2,
        "detector": "fire",
        "rules": [{"kind": "fire"}],
    }


def settings_doc(pg: str, nats: str, tmp: Path, cameras: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "storage": {"url": pg, "snapshots_dir": str(tmp / "snapshots")},
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
        "detectors": {"fire": {"kind": "classical_fire", "sensitivity": 0.5}},
        "cameras": cameras,
        "runtime": "ray",
        "distributed": {
            "shards": SHARDS,
            "nats_url": nats,
            "shard_num_cpus": 0.25,
            "ack_wait_s": 5.0,
            "spool_dir": str(tmp / "spool"),  # not var/spool: another run's leftovers must not replay here
            "namespace": f"sharpeyes-test-{os.getpid()}",
        },
    }


def wait_for(what: str, cond: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as exc:  # a shard mid-restart answers with an error: keep polling
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "object_store_memory": 80 * 1024 * 1024,
            "include_dashboard": False,
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
        },
    )
    try:
        c.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
        c.wait_for_nodes()
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()


@pytest.fixture
def engine_proc(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [sys.executable, "-m", "sharpeyes.cli", "run", "--role", "engine", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "engine.log").open("ab"),
        )
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)


def fire_sources(pg: str) -> list[str]:
    return sorted(src for cat, src, _ in incident_rows(pg) if cat == "fire")


def test_shards_restart_resume_and_move(
    cluster: Cluster,
    nats_server: NatsServer,
    pg_url: str,
    tmp_path: Path,
    assets: Path,
    engine_proc: Callable[[Path], subprocess.Popen[bytes]],
) -> None:
    room, wild = assets / "video" / "fire_room_getty.mp4", assets / "video" / "fire_aerial_wildfire.mp4"
    # Pick ids that hash to different shards, so both shards (and both nodes) have work.
    ids = [f"CAM-{i:02d}" for i in range(40)]
    a = next(c for c in ids if shard_of(c, SHARDS) == 0)
    b = next(c for c in ids if shard_of(c, SHARDS) == 1)
    doc = settings_doc(pg_url, nats_server.url, tmp_path, [camera(a, str(room)), camera(b, str(wild))])
    config = tmp_path / "sharpeyes.yaml"
    config.write_text(yaml.safe_dump(doc))
    settings = Settings.model_validate(doc)
    engine_proc(config)

    ray.init(address=cluster.address, namespace=settings.distributed.namespace, log_to_driver=False)
    rec = Reconciler(settings, call_timeout_s=90)
    try:
        t0 = time.monotonic()
        first = rec.reconcile()
        assert set(first) == {0, 1} and not rec.last_errors, rec.last_errors
        wait_for("fire incidents from both shards", lambda: fire_sources(pg_url) == sorted([a, b]), 90)
        print(f"\nstart → fire incidents on both cameras: {time.monotonic() - t0:.1f} s")
        status = rec.status()
        assert {n for s in status.values() for n in [s["node_id"]]} == {
            n["NodeID"] for n in ray.nodes() if n["Alive"]
        }, "SPREAD puts one shard on each node"

        # --- a shard killed is restarted by Ray and its cameras resume ------------------------------------
        victim = rec.actor(0)
        before = status[0]
        t_kill = time.monotonic()
        ray.kill(victim, no_restart=False)

        def resumed() -> bool:
            s = ray.get(rec.actor(0).status.remote(), timeout=5)
            return s["pid"] != before["pid"] and s["cameras"].get(a, {}).get("analysed", 0) > 0

        wait_for("shard 0 restarted with its camera analysing", resumed, 90)
        failover = time.monotonic() - t_kill
        print(f"shard kill → restarted, camera {a} analysing again: {failover:.1f} s")
        # The restarted owner sees the same fire again: the engine keeps it on the one open incident.
        wait_for("restarted shard published again", lambda: rec.status()[0]["published"] > 0, 60)
        again = rec.reconcile()
        assert again[0]["changed"] is False and again[1]["changed"] is False  # same digest: left alone
        wait_for(
            "the restarted owner's fire on the open incident",
            lambda: any(src == a and n > 1 for cat, src, n in incident_rows(pg_url) if cat == "fire"),
            30,
        )
        assert fire_sources(pg_url) == sorted([a, b])

        # --- a camera added moves nothing else: only its shard restarts its pipeline ------------------------
        c_new = next(c for c in ids if shard_of(c, SHARDS) == 1 and c != b)
        before = rec.status()
        doc2 = {**doc, "cameras": [*doc["cameras"], camera(c_new, str(room))]}
        moves = rec.update(Settings.model_validate(doc2))
        assert moves.added == {c_new: 1} and not moves.removed and not moves.moved and not moves.changed
        after = rec.status()
        assert after[0]["pipeline_started_at"] == before[0]["pipeline_started_at"]
        assert after[1]["pipeline_started_at"] != before[1]["pipeline_started_at"]
        wait_for("new camera's fire incident", lambda: c_new in fire_sources(pg_url), 60)

        # --- a node removed: its shard is restarted on the other node -------------------------------------
        worker = cluster.list_all_nodes()[1]
        on_worker = [i for i, s in after.items() if s["node_id"] == worker.node_id]
        assert on_worker, after
        shard = on_worker[0]
        cam = next(iter(after[shard]["cameras"]))
        t_node = time.monotonic()
        cluster.remove_node(worker)

        def moved() -> bool:
            s = ray.get(rec.actor(shard).status.remote(), timeout=5)
            return s["node_id"] != worker.node_id and s["cameras"].get(cam, {}).get("analysed", 0) > 0

        wait_for(f"shard {shard} on the remaining node", moved, 120, every=0.5)
        print(f"node removed → shard {shard} analysing on the other node: {time.monotonic() - t_node:.1f} s")
        rec.reconcile()
        wait_for(
            "every camera analysing",
            lambda: all(c["analysed"] > 0 for s in rec.status().values() for c in s["cameras"].values()),
            60,
        )
        assert sorted(set(fire_sources(pg_url))) == sorted([a, b, c_new])
        assert len(fire_sources(pg_url)) == 3  # one incident per camera through kill, restart and move
    finally:
        rec.shutdown()
