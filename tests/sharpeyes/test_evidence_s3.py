"""Evidence in an S3-compatible object store (`storage.evidence.backend: s3`), against a real S3 HTTP server.

The server is moto's `ThreadedMotoServer` (moto[server], Apache-2.0): an S3 *emulator* speaking the S3 REST
API over HTTP on a loopback port, not MinIO (MinIO's server is not on PyPI). The code under test is the
service's own: boto3 client, spool and uploader, retention, and the HTTP API under uvicorn on loopback.

- a snapshot, a clip (with byte ranges) and a field photo written through the storage are in the bucket and
  served from it by an API process that never saw them locally (as the API role serves what a shard wrote);
- retention deletes a finished incident's clips from the bucket, by age and by the byte budget;
- with the store stopped, or hanging, a fire still opens its incident at once, the failed uploads are
  counted and logged once, and the snapshot reaches the bucket when the store is back.
"""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import uvicorn
import yaml
from moto.server import ThreadedMotoServer
from PIL import Image
from prometheus_client import CollectorRegistry

from alarms.engine import Trigger
from alarms.evidence_config import EvidenceStorageConfig, S3EvidenceConfig
from dashboard.app import create_app
from dashboard.evidence_http import byte_range
from sharpeyes.distributed.roles import api_settings
from sharpeyes.runtime import ApiRole, LocalRuntime
from sharpeyes.settings import parse_settings
from tests.support.h264_packets import Camera, Clock, make_h264
from tests.support.pipeline import incident_engine, incident_rows
from tests.support.ports import free_port
from tests.support.rtsp import wait_for
from tests.video.test_clip_retention import NOW, _meta
from video.clip_config import ClipRetention, ClipsConfig
from video.clip_recorder import ClipRecorder, ClipRequest
from video.clip_store import ClipStore
from video.config import CameraConfig, VideoConfig
from video.evidence_s3 import S3Storage
from video.pipeline import VideoPipeline
from video.snapshots import SnapshotStore

REPO = Path(__file__).resolve().parents[2]
KEY_ID, SECRET = "AKIDEVIDENCETEST", "evidence-secret-value-never-logged"
ENV = {"S3_KEY": KEY_ID, "S3_SECRET": SECRET, "T_OP": "tok-op", "CLIP_SECRET": "district clip links"}
OP = {"Authorization": "Bearer tok-op"}
PREFIX = "district-7/"


class MotoS3:
    """moto's S3 server on a loopback port; `stop` and `start` again on the same port (its buckets live in
    this process, so they survive the restart, as a real store's do)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bucket = f"evidence-{uuid.uuid4().hex[:12]}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> MotoS3:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )

    def objects(self) -> set[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return {o["Key"] for o in listed.get("Contents", [])}

    def config(self, **kw: Any) -> S3EvidenceConfig:
        base = {
            "endpoint_url": self.url,
            "bucket": self.bucket,
            "prefix": PREFIX,
            "access_key_env": "S3_KEY",
            "secret_key_env": "S3_SECRET",
            "retry_max_s": 1.0,
        }
        return S3EvidenceConfig.model_validate({**base, **kw})


@pytest.fixture
def s3() -> Iterator[MotoS3]:
    server = MotoS3().start()
    server.client().create_bucket(Bucket=server.bucket)
    yield server
    server.stop()


def storage(cfg: S3EvidenceConfig, spool: Path, registry: CollectorRegistry | None = None) -> S3Storage:
    return S3Storage(cfg, env=ENV, registry=registry, spool=spool)


def uploaded(st: S3Storage, timeout: float = 15.0) -> None:
    assert wait_for(lambda: st.uploader.pending() == 0, timeout, 0.05), "uploads did not finish"


def spooled(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def jpeg_bytes(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


# ----- the API process: `--role api` beside shards, reading the bucket -------------------------------------
class Api:
    """`--role api` (no cameras of its own; the shards' cameras for scope) under uvicorn on loopback."""

    def __init__(self, tmp: Path, s3: MotoS3) -> None:
        doc = {
            "runtime": "ray",
            "storage": {
                "url": f"sqlite:///{tmp / 'api.db'}",
                "snapshots_dir": str(tmp / "api-snaps"),
                "evidence": {
                    "backend": "s3",
                    "s3": s3.config(spool_dir=str(tmp / "api-spool")).model_dump(exclude_defaults=True),
                },
            },
            "mqtt": {"embedded": False, "port": 1},
            "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
            "cameras": [
                {"id": "CAM-1", "url": "rtsp://10.0.0.1/s1", "grid": "G-001", "rules": [{"kind": "fire"}]}
            ],
            "auth": {"api_tokens": [{"name": "op", "token_env": "T_OP", "role": "operator"}]},
            "clips": {"link_secret_env": "CLIP_SECRET"},
            "distributed": {
                "nats_url": "nats://127.0.0.1:1",
                "buttons_via": "ingest",
                "delivery": {"via": "queue"},
            },
        }
        settings = parse_settings(yaml.safe_dump(doc), "api.yaml", env=ENV)
        self.settings = settings
        self.runtime = LocalRuntime(
            api_settings(settings), env=ENV, api=ApiRole.from_settings(settings, settings.cameras)
        )
        self.spool = tmp / "api-spool"
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(self.runtime), host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="evidence-api", daemon=True)

    def __enter__(self) -> Api:
        self.thread.start()
        assert wait_for(lambda: self._up(), 20, 0.05), "API did not start"
        return self

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers={**OP, **headers}, timeout=15)

    def fire(self, snapshot: str) -> int:
        change = self.runtime.engine.raise_condition(
            Trigger(
                "fire",
                "camera",
                "CAM-1",
                self.runtime.directory.grid_placement("G-001"),
                time.time(),
                "fire confirmed",
                evidence={"snapshot": snapshot},
                event_id=f"cam:CAM-1:fire:{uuid.uuid4().hex}",
            )
        )
        assert change is not None
        return change.incident.id


def record_clip(store: ClipStore, media: Path, incident_id: int) -> dict[str, Any]:
    """A real clip through the recorder (packets from a generated H.264 file on a settable clock)."""
    clock, attached = Clock(), []
    rec = ClipRecorder(
        ClipsConfig(), store, CollectorRegistry(), attach=lambda i, e: attached.append(e), clock=clock
    )
    ring = rec.tap("CAM-1")
    ring.clock = clock
    cam = Camera(ring, clock, media)
    for _ in range(15):
        cam.run(1)
        rec.run_once()
    rec.request(ClipRequest(incident_id, "fire", "CAM-1", clock.now, 10, 20))
    for _ in range(22):
        cam.run(1)
        rec.run_once()
    clock.now += 1.5
    rec.run_once()
    [entry] = attached
    assert entry["status"] == "saved", entry
    return entry


def test_snapshot_clip_and_photo_stored_in_s3_and_served_from_it(s3: MotoS3, tmp_path: Path) -> None:
    shard = storage(s3.config(), tmp_path / "shard-spool")  # the writer: a shard's (or another node's)
    media = make_h264(tmp_path / "cam.mp4", 40.0)
    with Api(tmp_path, s3) as api:
        assert api.runtime.evidence.backend == "s3" and api.settings.storage.evidence.backend == "s3"
        # snapshot: written by the shard, in the bucket, served by the API from the bucket
        jpeg = jpeg_bytes()
        name = SnapshotStore(shard.area("snapshots", tmp_path / "unused")).save(
            "CAM-1", time.time(), "fire", "confirmed", jpeg
        )
        iid = api.fire(name)
        # clip: recorded into the shard's spool, uploaded, then streamed by the API with byte ranges
        entry = record_clip(ClipStore(shard.area("clips", tmp_path / "unused")), media, iid)
        uploaded(shard)
        assert spooled(tmp_path / "shard-spool") == [], "the spool is emptied once the store has it"
        keys = s3.objects()
        assert f"{PREFIX}snapshots/{name}" in keys
        assert {f"{PREFIX}clips/CAM-1/{entry['id']}.mp4", f"{PREFIX}clips/CAM-1/{entry['id']}.json"} <= keys

        r = api.get(f"/api/incidents/{iid}/snapshot")
        assert r.status_code == 200 and r.content == jpeg and r.headers["content-type"] == "image/jpeg"
        assert api.get(f"/api/snapshots/{name}").content == jpeg
        assert api.get("/api/snapshots/CAM-1/20260101T000000000-fire-confirmed.jpg").status_code == 404

        whole = api.get(f"/api/clips/{entry['id']}")
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes" and len(whole.content) == entry["size"]
        assert hashlib.sha256(whole.content).hexdigest() == entry["sha256"]
        part = api.get(f"/api/clips/{entry['id']}", range="bytes=1000-1999")
        assert part.status_code == 206 and part.content == whole.content[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{entry['size']}"
        tail = api.get(f"/api/clips/{entry['id']}", range="bytes=-500")
        assert tail.status_code == 206 and tail.content == whole.content[-500:]
        assert api.get(f"/api/clips/{entry['id']}", range=f"bytes={entry['size']}-").status_code == 416
        saved = api.get(f"/api/clips/{entry['id']}?download=1")
        assert saved.headers["content-disposition"].startswith("attachment")
        assert saved.content == whole.content
        link = httpx.post(f"{api.base}/api/clips/{entry['id']}/link", headers=OP, timeout=10).json()
        signed = httpx.get(f"{api.base}{link['url']}", headers={"range": "bytes=0-99"}, timeout=10)
        assert signed.status_code == 206 and signed.content == whole.content[:100]
        assert httpx.get(f"{api.base}/api/clips/{entry['id']}", timeout=10).status_code == 401

        # field photo: uploaded through the API, kept in the bucket, served from it
        sent = jpeg_bytes((40, 120, 200))
        up = httpx.post(
            f"{api.base}/api/field/incidents/{iid}/photos",
            content=sent,
            headers={**OP, "content-type": "image/jpeg"},
            timeout=15,
        )
        assert up.status_code == 201, up.text
        photo = up.json()
        assert isinstance(api.runtime.evidence, S3Storage)
        uploaded(api.runtime.evidence)
        assert spooled(api.spool) == []
        photo_keys = {k for k in s3.objects() if k.startswith(f"{PREFIX}photos/{iid}/")}
        assert len(photo_keys) == 2 and any(k.endswith("-thumb.jpg") for k in photo_keys)
        got = api.get(f"/api/field/photos/{photo['id']}")
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(got.content)).size == (320, 240)
        assert api.get(f"/api/field/photos/{photo['id']}/thumb").status_code == 200
    shard.close()


def test_retention_deletes_finished_clips_from_the_bucket(s3: MotoS3, tmp_path: Path) -> None:
    """The byte budget is over every clip under the bucket prefix; open incidents' clips stay."""
    st = storage(s3.config(), tmp_path / "spool")
    store = ClipStore(st.area("clips", tmp_path / "unused"))
    clips = [_meta(1, 40, {"1": "crowd"}), _meta(2, 2, {"2": "crowd"}), _meta(3, 1, {"3": "sos"})]
    for m in clips:
        path = store.path_for(m.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * m.size)
        store.save_meta(m)
    uploaded(st)
    assert len(s3.objects()) == 6
    registry = CollectorRegistry()
    cfg = ClipsConfig(retention=ClipRetention(max_bytes=150))
    rec = ClipRecorder(cfg, store, registry, is_open=lambda i: i == 3, clock=lambda: NOW)
    rec.run_once()
    kept = clips[2].id
    assert s3.objects() == {f"{PREFIX}clips/CAM-1/{kept}.mp4", f"{PREFIX}clips/CAM-1/{kept}.json"}
    assert [m.id for m in store.all()] == [kept] and store.find(clips[0].id) is None

    def count(reason: str) -> float:
        return registry.get_sample_value("sharpeyes_clips_deleted_total", {"reason": reason}) or 0.0

    assert count("age") == 1 and count("disk_budget") == 1
    assert registry.get_sample_value("sharpeyes_clips_disk_bytes") == 100
    st.close()


# ----- outages ---------------------------------------------------------------------------------------------
class Blackhole:
    """A store that accepts connections and never answers (a hung proxy, a half-dead node)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


def _failures(registry: CollectorRegistry, area: str = "snapshots", op: str = "upload") -> float:
    labels = {"backend": "s3", "area": area, "op": op}
    return registry.get_sample_value("sharpeyes_evidence_store_failures_total", labels) or 0.0


def _fire_pipeline(assets: Path, tmp: Path, snapshots: SnapshotStore, registry: CollectorRegistry) -> Any:
    engine, directory = incident_engine(tmp / "se.db")
    cam = CameraConfig(
        id="ROOM",
        url=f"file://{assets}/video/fire_room_getty.mp4",
        grid="G-001",
        rules=[{"kind": "fire"}],  # type: ignore[list-item]
    )
    video = VideoPipeline(
        [cam], {}, VideoConfig(), engine=engine, directory=directory, snapshots=snapshots,
        registry=registry, env={},
    )
    return engine, video


@pytest.mark.parametrize("outage", ["stopped", "hanging"])
def test_store_down_the_fire_opens_at_once_and_the_failure_is_counted(
    s3: MotoS3, tmp_path: Path, assets: Path, caplog: pytest.LogCaptureFixture, outage: str
) -> None:
    """Stopped (connection refused) or hanging (accepts, never answers: a synchronous write would wait its
    timeouts): the alarm thread only writes the local spool, so the incident opens as fast as ever."""
    caplog.set_level(logging.INFO, logger="video.evidence_upload")
    hole = Blackhole() if outage == "hanging" else None
    if hole is None:
        s3.stop()
        cfg = s3.config()
    else:
        cfg = s3.config(endpoint_url=hole.url, connect_timeout_s=5, read_timeout_s=5)
    registry = CollectorRegistry()
    st = storage(cfg, tmp_path / "spool", registry)
    snapshots = SnapshotStore(st.area("snapshots", tmp_path / "x"))
    engine, video = _fire_pipeline(assets, tmp_path, snapshots, registry)
    video.start()
    try:
        assert wait_for(lambda: any(r["category"] == "fire" for r in incident_rows(engine)), 20, 0.1)
    finally:
        video.stop()
    [fire] = [r for r in incident_rows(engine) if r["category"] == "fire"]
    name = fire["evidence"]["snapshot"]
    assert name and (tmp_path / "spool" / "snapshots" / name).is_file(), "in the spool, named in evidence"
    # Every observation became its incident change in well under the store's timeouts (5 s), snapshot
    # included: usually ~0.3 s here; 2 s leaves room for a machine busy with other work.
    total = registry.get_sample_value("sharpeyes_observation_to_incident_seconds_count", {"kind": "fire"})
    fast = registry.get_sample_value(
        "sharpeyes_observation_to_incident_seconds_bucket", {"kind": "fire", "le": "2.0"}
    )
    assert total and fast == total
    assert wait_for(lambda: _failures(registry) >= (3 if hole is None else 1), 20, 0.1), "failures counted"
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1, "logged once per outage, not per try"
    text = caplog.text
    assert SECRET not in text and KEY_ID not in text
    if hole is not None:
        st.close(timeout=1)
        hole.close()
        return
    s3.start()  # the store is back: what waited is uploaded, in order, and the recovery said once
    uploaded(st, 20)
    assert f"{PREFIX}snapshots/{name}" in s3.objects() and spooled(tmp_path / "spool") == []
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert registry.get_sample_value("sharpeyes_evidence_uploaded_total", {"area": "snapshots"})
    st.close()


def test_a_full_spool_refuses_new_evidence_and_counts_it(s3: MotoS3, tmp_path: Path) -> None:
    """Past `spool_max_bytes` during an outage a write fails (OSError: the caller records no snapshot)."""
    s3.stop()
    registry = CollectorRegistry()
    st = storage(s3.config(spool_max_bytes=1024**2), tmp_path / "spool", registry)
    snaps = SnapshotStore(st.area("snapshots", tmp_path / "x"))
    started = time.perf_counter()
    snaps.save("CAM-1", 1_790_000_000.0, "fire", "confirmed", b"\xff\xd8" + b"x" * (700 * 1024))
    with pytest.raises(OSError, match="spool full"):
        snaps.save("CAM-1", 1_790_000_001.0, "fire", "confirmed", b"\xff\xd8" + b"x" * (700 * 1024))
    assert time.perf_counter() - started < 1.0
    assert _failures(registry, op="spool_full") == 1
    st.close(timeout=1)


def test_names_are_unique_without_asking_the_store(s3: MotoS3, tmp_path: Path) -> None:
    st = storage(s3.config(), tmp_path / "spool")
    snaps = SnapshotStore(st.area("snapshots", tmp_path / "x"))
    a = snaps.save("CAM-1", 1_790_000_000.25, "fire", "suspected", b"\xff\xd8one")
    uploaded(st)
    b = snaps.save("CAM-1", 1_790_000_000.25, "fire", "suspected", b"\xff\xd8two")
    assert a != b and b.endswith("-suspected-2.jpg")
    uploaded(st)
    found = snaps.find(*a.split("/"))
    assert found is not None and found.read_bytes() == b"\xff\xd8one" and found.path is None
    assert snaps.find("..", "x.jpg") is None and snaps.find("CAM-1", "../../x.jpg") is None
    st.close()


# ----- small parts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-", 10, (0, 10)),
        ("bytes=2-4", 10, (2, 5)),
        ("bytes=5-100", 10, (5, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=-30", 10, (0, 10)),
        ("bytes=0-1,4-5", 10, None),  # several ranges: the whole object, as HTTP allows
        ("items=0-1", 10, None),
        ("bytes=10-", 10, ValueError),
        ("bytes=5-2", 10, ValueError),
        ("bytes=-0", 10, ValueError),
    ],
)
def test_byte_range(header: str | None, size: int, expected: Any) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError):
            byte_range(header, size)
    else:
        assert byte_range(header, size) == expected


def test_config_names_variables_never_values() -> None:
    with pytest.raises(ValueError, match="needs an `s3:` section"):
        EvidenceStorageConfig(backend="s3")
    with pytest.raises(ValueError):
        S3EvidenceConfig(bucket="evidence", access_key_env="not a name!")
    assert EvidenceStorageConfig().backend == "folder"


def test_the_folder_default_never_imports_boto3() -> None:
    code = (
        "import sys; import sharpeyes.runtime, dashboard.app; "
        "from video.evidence_store import evidence_storage; from alarms.evidence_config import "
        "EvidenceStorageConfig as C; s = evidence_storage(C(), env={}, registry=None, spool_dir='x'); "
        "assert s.backend == 'folder'; assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
