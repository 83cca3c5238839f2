"""`--role api` with `runtime: ray`: the shards' cameras are listed and their evidence pictures served.

The API process runs no camera; the shards write snapshots to the shared `storage.snapshots_dir`. An incident
opened from a shard's observation must still show its picture to an operator of that street, and not to one
of another street; the camera list must name the cameras without their passwords.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from alarms.engine import Trigger
from dashboard.app import create_app
from sharpeyes.distributed.api_role import ApiRuntime
from sharpeyes.distributed.roles import api_settings
from sharpeyes.distributed.shards import shard_of
from sharpeyes.settings import parse_settings
from video.snapshots import SnapshotStore

JPEG = b"\xff\xd8\xff\xe0 evidence \xff\xd9"
ENV = {"CAM_PW": "s3cret-pw", "T_S1": "tok-s1", "T_S2": "tok-s2"}


def test_api_role_serves_shard_snapshots_in_scope(tmp_path: Path) -> None:
    doc = {
        "runtime": "ray",
        "storage": {"url": f"sqlite:///{tmp_path / 'api.db'}", "snapshots_dir": str(tmp_path / "snaps")},
        "mqtt": {"embedded": False, "port": 1},
        "grids": [
            {"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"},
            {"id": "G-002", "name": "two", "community": "C-2", "street": "S-2"},
        ],
        "cameras": [
            {
                "id": "CAM-1",
                "url": "rtsp://viewer:${CAM_PW}@10.0.0.1/s1",
                "grid": "G-001",
                "rules": [{"kind": "fire"}],
            }
        ],
        "auth": {
            "api_tokens": [
                {"name": "s1", "token_env": "T_S1", "role": "operator", "streets": ["S-1"]},
                {"name": "s2", "token_env": "T_S2", "role": "operator", "streets": ["S-2"]},
            ]
        },
        "distributed": {
            "nats_url": "nats://127.0.0.1:1",
            "buttons_via": "ingest",
            "delivery": {"via": "queue"},
        },
    }
    settings = parse_settings(yaml.safe_dump(doc), "api.yaml", env=ENV)
    runtime = ApiRuntime(api_settings(settings), env=ENV, cameras=settings.cameras)
    assert runtime.video is None, "the API process runs no camera"
    name = SnapshotStore(tmp_path / "snaps").save("CAM-1", time.time(), "fire", "confirmed", JPEG)  # a shard

    with TestClient(create_app(runtime)) as client:
        change = runtime.engine.raise_condition(
            Trigger(
                "fire",
                "camera",
                "CAM-1",
                runtime.directory.grid_placement("G-001"),
                time.time(),
                "fire confirmed",
                evidence={"snapshot": name},
                event_id="cam:CAM-1:fire:1",
            )
        )
        assert change is not None
        iid = change.incident.id
        s1, s2 = {"Authorization": "Bearer tok-s1"}, {"Authorization": "Bearer tok-s2"}
        r = client.get(f"/api/incidents/{iid}/snapshot", headers=s1)
        assert r.status_code == 200 and r.content == JPEG
        assert client.get(f"/api/incidents/{iid}/snapshot", headers=s2).status_code == 404
        assert client.get(f"/api/snapshots/{name}", headers=s1).status_code == 200
        assert client.get("/api/snapshots/CAM-1/../../api.db", headers=s1).status_code == 404
        cams = client.get("/api/cameras", headers=s1).json()["items"]
        # No shard has reported (NATS is unreachable here): unknown, never shown as healthy
        assert [(c["id"], c["state"], c["shard"]) for c in cams] == [
            ("CAM-1", "unknown", shard_of("CAM-1", 8))
        ]
        assert "s3cret-pw" not in str(cams)
        assert client.get("/api/cameras", headers=s2).json()["count"] == 0
