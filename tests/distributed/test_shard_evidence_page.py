"""A fire on a shard's camera, seen on the API role's page: its snapshot, its evidence clip playing in
Chromium, and an SOS whose button links that camera getting the camera's 30 s before the press.

Real parts throughout: a Ray cluster running the shard actor (reconciled from the test, as `--role shard`
does), a private nats-server with JetStream, PostgreSQL, `sharpeyes run --role engine` and `--role api` as
processes, mosquitto for the button, Debian's Chromium. The camera is a looping fire clip read as a file.
The shard keeps the camera's packet ring, writes the clip to the shared evidence folder and reports it on
JetStream; the engine role records it on the incident it opened; the API role serves it from the folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray
from playwright.sync_api import Browser, Page, expect, sync_playwright
from ray.cluster_utils import Cluster

from alarms.storage.store import Store
from dashboard.users import UserStore
from sharpeyes.distributed.reconciler import Reconciler
from sharpeyes.settings import Settings
from tests.e2e.conftest import PASSWORD
from tests.support.browser import launch, sign_in
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.nats_server import NatsServer
from tests.support.ports import free_port
from tests.support.service import Service, write_config

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(480)]

CAM = "CAM-SHARD-FIRE"
SOS_PRE, SOS_POST = 30, 6
FIRE_PRE, FIRE_POST = 10, 8
PLAYING = (
    "(sel) => { const v = document.querySelector(sel);"
    " return !!v && v.readyState >= 2 && v.getVideoPlaybackQuality().totalVideoFrames > 5"
    " && v.currentTime > 0.3 && !v.error; }"
)
PICTURE = (
    "(sel) => { const i = document.querySelector(sel); return !!i && i.complete && i.naturalWidth > 0; }"
)
LIVE_FRAMES = (  # the incident's live view of its camera: WebRTC frames decoded, or MJPEG pictures shown
    "(cam) => { const t = document.querySelector(`#linked-video .live-tile[data-camera='${cam}']`);"
    " if (!t) return false; const v = t.querySelector('video'), i = t.querySelector('img');"
    " return (!!v && v.getVideoPlaybackQuality().totalVideoFrames > 5)"
    " || (!!i && i.naturalWidth > 0 && Number(t.dataset.frames || 0) > 2); }"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """This module's own Chromium, closed with the module: Playwright's sync API keeps an event loop running
    on the main thread while it is open, and the distributed tests after this one call asyncio.run()."""
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


def wait_for(what: str, cond: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as exc:  # a process still starting answers with an error: keep polling
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def poll(page: Page, js: str, arg: object, timeout: float, what: str) -> None:
    """Python-side polling with page.evaluate (the page's CSP forbids the eval wait_for_function needs)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(js, arg):
        assert time.monotonic() < deadline, f"not true after {timeout} s: {what}"
        time.sleep(0.1)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
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


@pytest.fixture
def rig(
    tmp_path: Path, pg_url: str, nats_server: NatsServer, mosquitto: Mosquitto, assets: Path
) -> Iterator[tuple[Service, Path]]:
    """One config for every role; users in PostgreSQL before the API starts, as `sharpeyes user add` does."""
    store = Store(pg_url)
    store.migrate()
    UserStore(store).add("wang", PASSWORD, "operator")
    store.close()
    evidence = tmp_path / "shared-evidence"  # the folder every role mounts (a ReadWriteMany claim in k8s)
    config = tmp_path / "sharpeyes.yaml"
    cfg = write_config(
        config,
        mqtt_port=mosquitto.port,
        webhook_url="http://127.0.0.1:9/unused",
        db=tmp_path / "unused.db",
        http_port=free_port(),
        extra={
            "storage": {"url": pg_url, "snapshots_dir": str(evidence / "snapshots")},
            "webhooks": [],
            "runtime": "ray",
            "buttons": [{"id": "B-001", "grid": "G-001", "cameras": [CAM]}],
            "detectors": {"fire": {"kind": "classical_fire", "sensitivity": 0.5}},
            "cameras": [
                {
                    "id": CAM,
                    "url": f"file://{assets / 'video' / 'fire_aerial_wildfire.mp4'}",  # loops, key every 3 s
                    "grid": "G-001",
                    "detect_fps": 2,
                    "detector": "fire",
                    "rules": [{"kind": "fire"}],
                }
            ],
            "clips": {
                "windows": {
                    "sos": {"pre_s": SOS_PRE, "post_s": SOS_POST},
                    "fire": {"pre_s": FIRE_PRE, "post_s": FIRE_POST},
                }
            },
            "distributed": {
                "shards": 1,
                "nats_url": nats_server.url,
                "shard_num_cpus": 0.25,
                "ack_wait_s": 5.0,
                "spool_dir": str(tmp_path / "spool"),
                "namespace": f"sharpeyes-evidence-{os.getpid()}",
            },
        },
    )
    api = Service(config, cfg, tmp_path / "api.log", args=("--role", "api")).start(timeout=60)
    engine = subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "run", "--role", "engine", "-c", str(config)],
        env=api.env(),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "engine.log").open("ab"),
    )
    try:
        yield api, evidence
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            engine.wait(15)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait(5)
        api.stop()


def _incident(api: Service, source: str, category: str) -> dict[str, Any]:
    items = api.get("/api/incidents").json()["items"]
    found = [i for i in items if i["source_id"] == source and i["category"] == category]
    return found[0] if found else {}


def _saved_clips(api: Service, incident_id: int) -> list[dict[str, Any]]:
    clips = api.get(f"/api/incidents/{incident_id}").json()["evidence"].get("clips") or []
    return [c for c in clips if c.get("status") == "saved"]


def _open(page: Page, incident_id: int) -> None:
    page.locator(f"#queue tr.incident[data-id='{incident_id}']").click()
    expect(page.locator("#evidence-clips")).to_be_visible(timeout=15_000)


def _plays(page: Page, clip: dict[str, Any]) -> dict[str, Any]:
    sel = f"video[data-clip='{clip['id']}']"
    page.locator(sel).evaluate("(v) => v.play()")
    poll(page, PLAYING, sel, 15, f"clip {clip['id']} playing")
    info: dict[str, Any] = page.locator(sel).evaluate(
        "(v) => ({duration: v.duration, seekable: v.seekable.length})"
    )
    return info


def _clip_on_shared_storage(evidence: Path, clip: dict[str, Any], incident_id: int) -> None:
    """The shard wrote it where every role reads; the engine role named the incident in its record."""
    folder = evidence / "clips" / CAM
    mp4 = folder / f"{clip['id']}.mp4"
    assert mp4.is_file() and mp4.stat().st_size == clip["size"]
    meta = json.loads((folder / f"{clip['id']}.json").read_text())
    assert str(incident_id) in meta["incidents"], meta


def _clip_timeline_entries(api: Service, incident_id: int, clip_id: str) -> int:
    timeline = api.get(f"/api/incidents/{incident_id}").json()["timeline"]
    return sum(1 for e in timeline if clip_id in json.dumps(e, ensure_ascii=False))


def test_shard_fire_shows_snapshot_and_clip_and_sos_gets_30_s_before(
    rig: tuple[Service, Path],
    cluster: Cluster,
    mosquitto: Mosquitto,
    browser: Browser,
) -> None:
    api, evidence = rig
    settings = Settings.model_validate(api.cfg)
    ray.init(address=cluster.address, namespace=settings.distributed.namespace, log_to_driver=False)
    rec = Reconciler(settings, call_timeout_s=120)
    try:
        first = rec.reconcile()
        assert set(first) == {0} and not rec.last_errors, rec.last_errors

        def analysing() -> bool:
            return rec.status()[0]["cameras"].get(CAM, {}).get("analysed", 0) > 0

        wait_for("the shard analysing its camera", analysing, 120)
        camera_up = time.time()

        # --- the fire: opened by the engine role from the shard's observation, the alarm first -------------
        fire = wait_for("a fire incident on the shard's camera", lambda: _incident(api, CAM, "fire"), 90)
        assert fire["state"] == "reported"
        assert fire["evidence"].get("snapshot"), fire["evidence"]
        snap = httpx.get(f"{api.base}/api/incidents/{fire['id']}/snapshot", headers=api.headers(), timeout=10)
        assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"

        def fire_clip() -> list[dict[str, Any]]:
            return _saved_clips(api, fire["id"])[:1]

        try:
            [clip] = wait_for("the fire's clip recorded by the engine role", fire_clip, FIRE_POST + 60)
        except AssertionError:
            raise AssertionError(f"no clip; shard: {rec.status()[0].get('clips')}") from None
        assert len(clip["sha256"]) == 64 and clip["size"] > 0 and clip["camera_id"] == CAM
        inside = [at for at in clip["triggers"] if clip["start"] <= at <= clip["end"]]
        assert inside, clip  # the trigger moment is inside the clip (the page marks it)
        _clip_on_shared_storage(evidence, clip, fire["id"])
        # the API role serves the shard's file: never anonymously, byte ranges for seeking
        assert httpx.get(f"{api.base}{clip['url']}", timeout=10).status_code == 401
        part = httpx.get(
            f"{api.base}{clip['url']}", headers={**api.headers(), "range": "bytes=0-99"}, timeout=10
        )
        assert part.status_code == 206 and len(part.content) == 100

        # --- SOS on a button linked to the shard's camera: its clip holds the 30 s before the press --------
        time.sleep(max(0.0, camera_up + SOS_PRE + 8 - time.time()))  # the ring holds 30 s by now
        button = ButtonSim(mosquitto.port, client_id="shard-evidence-pole")
        pressed = time.time()
        try:
            button.send("B-001", seq=1)
        finally:
            button.close()
        sos = wait_for("the SOS incident", lambda: _incident(api, "B-001", "sos"), 20)
        assert sos["state"] == "reported"
        [sos_clip] = wait_for(
            "the SOS clip from the shard", lambda: _saved_clips(api, sos["id"])[:1], SOS_POST + 60
        )
        assert pressed - SOS_PRE - 3.5 <= sos_clip["start"] <= pressed - SOS_PRE + 1.0, (pressed, sos_clip)
        assert sos_clip["end"] >= pressed + SOS_POST - 1.5, (pressed, sos_clip)
        _clip_on_shared_storage(evidence, sos_clip, sos["id"])

        # --- the API role's page ------------------------------------------------------------------------
        page = sign_in(browser, api.base, "wang", PASSWORD, lang="en")
        try:
            _open(page, fire["id"])
            poll(page, PICTURE, "#detail .snapshot img, .snapshot img", 15, "the fire's snapshot shown")
            info = _plays(page, clip)
            assert abs(info["duration"] - (clip["end"] - clip["start"])) < 1.5 and info["seekable"] >= 1
            mark = page.locator("#evidence-clips .clip-mark").first
            expect(mark).to_be_visible()
            assert "Alarm at" in (mark.get_attribute("title") or "")

            # --- HEALTH ROW (shard camera health on /api/cameras, another engineer's part) ---------------
            rows = {c["id"]: c for c in api.get("/api/cameras").json()["items"]}
            assert rows[CAM]["state"] == "online", rows[CAM]

            # --- LIVE VIDEO (a shard camera's live view on the API role's page, another engineer's part) --
            poll(page, LIVE_FRAMES, CAM, 20, f"live video of {CAM} on the incident")

            _open(page, sos["id"])
            sos_info = _plays(page, sos_clip)
            assert sos_info["duration"] > SOS_PRE
        finally:
            page.context.close()

        # Each clip went onto its incident once, whatever JetStream redelivered.
        assert _clip_timeline_entries(api, fire["id"], clip["id"]) == 1
        assert [c["id"] for c in _saved_clips(api, fire["id"])].count(clip["id"]) == 1
    finally:
        rec.shutdown()
