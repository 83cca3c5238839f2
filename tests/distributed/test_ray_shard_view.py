"""Under Ray: a shard actor's camera health and live frames reach the API role; a killed shard's cameras turn
unknown. One bounded scenario on a one-node Ray cluster (Ray costs seconds to start on two cores); the details
(scope, MJPEG, WebRTC, leases, owner and freshness rules) are in test_shard_view.py without Ray.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
import yaml
from ray.cluster_utils import Cluster

from sharpeyes.distributed.reconciler import Reconciler
from sharpeyes.settings import parse_settings
from tests.distributed.test_shard_view import ENV, ON_SHARD_0, ServedApi, config, wait_for
from tests.support.nats_server import NatsServer

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def one_node() -> Iterator[Cluster]:
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024, "include_dashboard": False},
    )
    try:
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()


def test_shard_actor_health_and_live_frame_reach_the_api_and_a_killed_shard_turns_unknown(
    one_node: Cluster, nats_server: NatsServer, tmp_path: Path, assets: Path
) -> None:
    doc = config(tmp_path, nats_server.url, assets / "video" / "fire_room_getty.mp4")
    doc["cameras"] = doc["cameras"][:1]  # one camera, on shard 0 of 2
    doc["distributed"] |= {"shard_num_cpus": 0.25, "namespace": f"sharpeyes-view-{os.getpid()}"}
    settings = parse_settings(yaml.safe_dump(doc), "se.yaml", env=ENV)
    ray.init(address=one_node.address, namespace=settings.distributed.namespace, log_to_driver=False)
    rec = Reconciler(settings, call_timeout_s=90)
    api = ServedApi(settings).start()
    try:
        rec.reconcile()
        assert not rec.last_errors, rec.last_errors
        row = wait_for(
            "the shard actor's camera online on the API role",
            lambda: (c := api.cameras()[ON_SHARD_0])["state"] == "online" and c,
            90,
        )
        assert row["shard"] == 0 and row["frames"] > 0 and row["fps_in"] > 0

        r = api.get(f"/api/cameras/{ON_SHARD_0}/frame.jpg")
        assert r.status_code == 200 and r.content[:2] == b"\xff\xd8", r.text[:200]
        view = ray.get(rec.actor(0).status.remote(), timeout=30)["view"]
        assert view["live_cameras"] == [ON_SHARD_0] and view["live_frames"] > 0

        ray.kill(rec.actor(0), no_restart=True)  # no goodbye: only the missing heartbeat tells
        gone = wait_for(
            "the killed shard's camera unknown",
            lambda: (c := api.cameras()[ON_SHARD_0])["state"] == "unknown" and c,
            30,
        )
        assert gone["shard"] == 0 and "silent" in gone["error"]
        assert api.get(f"/api/cameras/{ON_SHARD_0}/frame.jpg").status_code == 404, "no frozen frame as live"
    finally:
        api.stop()
        rec.shutdown()
