"""Camera secrets stay out of Ray: the reconciler sends `${VAR}` as written, the shard expands it from its
own node's environment, and a variable missing there is a camera error, not a crash.

The shard runs in this process here (its constructor and `apply` get exactly what the reconciler would pass
to Ray), against a real nats-server; the Ray cluster tests cover the actor machinery.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sharpeyes.distributed.reconciler import Reconciler
from sharpeyes.distributed.shard_actor import CameraShard
from sharpeyes.settings import parse_settings
from tests.support.nats_server import NatsServer

pytestmark = [pytest.mark.timeout(120)]

CAM_TOKEN = "cam-Pa55-7f3a9e"  # a stand-in camera password
PG_PASSWORD = "pg-Pa55-51c2d0"

CONFIG = """
storage:
  url: "postgresql://sharpeyes:${SE_T_PGPW}@127.0.0.1:5432/sharpeyes"
  snapshots_dir: "%(tmp)s/snapshots"
grids: [{id: G-001, name: one, community: C-1, street: S-1}]
detectors:
  fire: {kind: classical_fire, sensitivity: 0.5}
runtime: ray
distributed:
  shards: 1
  nats_url: "%(nats)s"
  spool_dir: null
cameras:
  - id: CAM-OK
    url: "file://${SE_T_CLIPS}/fire_room_getty.mp4?token=${SE_T_CAM_TOKEN}"
    grid: G-001
    detect_fps: 2
    detector: fire
    rules: [{kind: fire}]
  - id: CAM-NOENV
    url: "file://${SE_T_ELSEWHERE}/fire_aerial_wildfire.mp4"
    detect_url: "file://${SE_T_ELSEWHERE}/fire_aerial_wildfire.mp4?token=${SE_T_CAM_TOKEN}"
    grid: G-001
    detect_fps: 2
    detector: fire
    rules: [{kind: fire}]
"""


def load(tmp: Path, nats: str, clips: Path) -> Reconciler:
    env = {
        "SE_T_PGPW": PG_PASSWORD,
        "SE_T_CLIPS": str(clips),
        "SE_T_CAM_TOKEN": CAM_TOKEN,
        "SE_T_ELSEWHERE": str(clips),  # set where the config is checked; missing on the shard's node
    }
    settings = parse_settings(CONFIG % {"tmp": tmp, "nats": nats}, "test.yaml", env)
    assert CAM_TOKEN in settings.cameras[0].url and PG_PASSWORD in settings.storage.url  # expanded here
    return Reconciler(settings)


def test_reconciler_arguments_carry_no_secret(tmp_path: Path, assets: Path) -> None:
    rec = load(tmp_path, "nats://127.0.0.1:4222", assets / "video")
    sent = json.dumps([rec._settings_doc(), rec.desired()])  # what handle() and apply() hand to Ray
    assert CAM_TOKEN not in sent and PG_PASSWORD not in sent and str(assets) not in sent
    [cameras] = rec.desired().values()
    assert sorted(c["url"] for c in cameras) == [
        "file://${SE_T_CLIPS}/fire_room_getty.mp4?token=${SE_T_CAM_TOKEN}",
        "file://${SE_T_ELSEWHERE}/fire_aerial_wildfire.mp4",
    ]
    [noenv] = [c for c in cameras if c["id"] == "CAM-NOENV"]
    assert noenv["detect_url"] == "file://${SE_T_ELSEWHERE}/fire_aerial_wildfire.mp4?token=${SE_T_CAM_TOKEN}"
    doc = rec._settings_doc()
    assert "url" not in doc["storage"] and doc["storage"]["snapshots_dir"] == f"{tmp_path}/snapshots"
    assert set(doc) == {"grids", "detectors", "video", "clips", "distributed", "log_level", "storage"}


def test_shard_expands_from_its_node_environment(
    tmp_path: Path, assets: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = load(tmp_path, nats_server.url, assets / "video")
    monkeypatch.setenv("SE_T_CLIPS", str(assets / "video"))
    monkeypatch.setenv("SE_T_CAM_TOKEN", CAM_TOKEN)
    monkeypatch.delenv("SE_T_ELSEWHERE", raising=False)
    [cameras] = rec.desired().values()
    shard = CameraShard(0, rec._settings_doc(), cameras)  # what Ray's constructor call would run
    try:
        deadline = time.monotonic() + 60
        status = shard.status()
        while time.monotonic() < deadline and status["cameras"]["CAM-OK"]["analysed"] == 0:
            time.sleep(0.2)
            status = shard.status()
        assert status["cameras"]["CAM-OK"]["analysed"] > 0  # opened with the node's variables
        broken = status["cameras"]["CAM-NOENV"]
        assert broken["state"] == "config_error" and broken["analysed"] == 0
        assert "SE_T_ELSEWHERE is not set" in broken["error"] and "on this node" in broken["error"]
        again = shard.apply(cameras)  # the reconciler's next round: nothing restarts, the error is reported
        assert again["changed"] is False and set(again["camera_errors"]) == {"CAM-NOENV"}
        assert CAM_TOKEN not in json.dumps([status, again])
    finally:
        shard.stop()
