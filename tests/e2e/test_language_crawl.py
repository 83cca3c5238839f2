"""Complete Chinese, for people (issue 14, item 7): every view (queue, the detail of incidents of every
kind and state, map, KPIs, devices, wall) is walked in zh-CN and fails on any Latin word outside a short
allowlist (ids, units, SOS), and in English on any Chinese character. Names from the config (grids, people)
are data: they are allowed by value."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect
from prometheus_client import CollectorRegistry

from alarms.config import GridConfig, SlaConfig
from alarms.delivery.outbox import Routing
from alarms.engine import IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.storage.store import Store
from alarms.triggers import Trigger
from ingest.health import VideoLossEvent
from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.support.browser import sign_in
from tests.support.service import Service
from video.triggers import video_loss_trigger

pytestmark = pytest.mark.timeout(180)

ID = re.compile(r"^[A-Z]{1,4}-?\d+$")  # B-001, CAM-01, G-001, S-1, C-1
LATIN_OK = {"SOS", "WebRTC", "MJPEG", "fps", "P50", "P90", "a", "j", "k", "v"}  # + the shortcut keys
TYPED = {"派人前往", "巡逻一组", "误触"}  # what operators typed below: people's words, shown as typed
LANGUAGE_NAMES = {"English", "简体中文"}  # the language picker names each language in itself
SHORT_SLA = {
    "sla": {
        "default": {"acknowledge_s": 1, "close_s": 3600},
        "categories": {"sos": {"acknowledge_s": 1, "close_s": 3600}},
    }
}


def seed_cameras(cfg_path: Path) -> None:
    """Camera incidents as the video path writes them (its notes and evidence), before the service starts."""
    cfg = yaml.safe_load(cfg_path.read_text())
    store = Store(cfg["storage"]["url"])
    grids = [
        GridConfig(id=g["id"], community=g["community"], street=g["street"], name=g["name"])
        for g in cfg["grids"]
    ]
    directory = GridDirectory.build(grids)
    engine = IncidentEngine(
        store, directory, SlaConfig(), Routing([], "t"), AlarmMetrics(CollectorRegistry())
    )
    now = time.time()
    place = directory.grid_placement("G-001")
    for cat, note, ev in [
        ("fire", "fire confirmed, rule fire, count 2, confidence 0.87", {"rule": "fire", "confidence": 0.87}),
        ("crowd", "crowd suspected, rule crowd@crossing, count 14", {"rule": "crowd@crossing", "count": 14}),
    ]:
        engine.raise_condition(Trigger(cat, "camera", "CAM-01", place, now, note, evidence=ev))
    # The camera went down at 12:34:56 Beijing time (the config's zone; the test machine runs in UTC).
    down = datetime(2026, 12, 7, 12, 34, 56, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    mono = time.monotonic()
    event = VideoLossEvent("CAM-01", down=True, at=mono, since=mono - (now - down))
    engine.raise_condition(video_loss_trigger("CAM-01", "rtsp://cam", place, event, now, mono))
    store.close()


@pytest.fixture
def service(tmp_path: Path, mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    svc = shift.start(tmp_path, mosquitto, receiver.url, extra=SHORT_SLA, seed=seed_cameras)
    yield svc
    svc.stop()


def data_words(service: Service) -> set[str]:
    names = (
        {g["name"] for g in service.cfg["grids"]}
        | {p[3] for p in shift.PEOPLE}
        | {p[0] for p in shift.PEOPLE}
    )
    return names | TYPED | LANGUAGE_NAMES | {"admin"}  # the API token's name: an actor, data


def offending(text: str, lang: str, allowed: set[str]) -> list[str]:
    for name in allowed:
        text = text.replace(name, " ")
    if lang == "zh-CN":
        words = re.findall(r"[A-Za-z][A-Za-z0-9_\-@.]*", text)
        return [w for w in words if w not in LATIN_OK and not ID.match(w)]
    return re.findall(r"[\u4e00-\u9fff]+", text)


def crawl(page: Page, lang: str, allowed: set[str], incident_ids: list[int]) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}

    def check(where: str) -> None:
        found = offending(page.evaluate("document.body.innerText"), lang, allowed)
        if found:
            bad[where] = sorted(set(found))

    page.click("nav.tabs [data-view='queue']")
    page.select_option("#filters select[name=state]", "all")
    check("queue")
    for iid in incident_ids:
        page.locator(f"#queue tr.incident[data-id='{iid}']").click()
        expect(page.locator("#detail .timeline li").first).to_be_visible()
        page.wait_for_timeout(150)
        check(f"detail #{iid}")
    for view in ["map", "kpis", "devices", "wall", "search"]:
        page.click(f"nav.tabs [data-view='{view}']")
        page.wait_for_timeout(600)
        check(view)
    page.keyboard.press("?")
    check("help")
    page.keyboard.press("Escape")
    return bad


def test_every_view_speaks_one_language(browser: Browser, service: Service, mosquitto):  # type: ignore[no-untyped-def]
    shift.press(mosquitto, "B-001", 1)  # SOS, left to escalate
    shift.press(mosquitto, "B-003", 1)  # SOS, pressed again, cancelled from the button, then dispatched
    shift.press(mosquitto, "B-005", 1)  # SOS, cancelled as a false alarm
    shift.press(mosquitto, "B-007", 1)  # SOS, merged
    a = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    b = shift.wait_for(service, lambda i: i["source_id"] == "B-003")
    c = shift.wait_for(service, lambda i: i["source_id"] == "B-005")
    d = shift.wait_for(service, lambda i: i["source_id"] == "B-007")
    shift.press(mosquitto, "B-003", 2)
    sim = shift.ButtonSim(mosquitto.port, client_id="crawl-cancel")
    sim.send("B-003", kind="cancel", seq=3)
    sim.send("B-009", kind="tamper", seq=1)
    sim.send("B-011", kind="low_battery", seq=1)
    sim.close()
    shift.act(service, b["id"], "acknowledge")
    shift.act(service, b["id"], "dispatch", note="派人前往", assignee="巡逻一组")
    shift.act(service, c["id"], "cancel", note="误触", disposition="false_alarm")
    shift.act(service, d["id"], "merge", merged_into=a["id"])
    shift.wait_for(service, lambda i: i["source_id"] == "B-001" and i["escalation_level"] >= 1, timeout=15)
    shift.wait_for(service, lambda i: i["source_id"] == "B-011")
    ids = [i["id"] for i in service.get("/api/incidents", limit=1000).json()["items"]]
    allowed = data_words(service)

    zh = sign_in(browser, service.base, "wang", PASSWORD)
    bad_zh = crawl(zh, "zh-CN", allowed, ids)
    zh.context.close()
    en = sign_in(browser, service.base, "wang", PASSWORD, lang="en")
    bad_en = crawl(en, "en", allowed, ids)
    en.context.close()
    assert bad_zh == {}, f"Latin words on the Chinese page: {bad_zh}"
    loss = next(
        i for i in service.get("/api/incidents", limit=1000).json()["items"] if i["category"] == "video_loss"
    )
    zh = sign_in(browser, service.base, "wang", PASSWORD)
    zh.click("nav.tabs [data-view='queue']")
    zh.select_option("#filters select[name=state]", "all")
    zh.locator(f"#queue tr.incident[data-id='{loss['id']}']").click()
    expect(zh.locator("section.timeline")).to_contain_text("自 12:34:56 起无视频：无画面")
    zh.context.close()
    assert bad_en == {}, f"Chinese on the English page: {bad_en}"
