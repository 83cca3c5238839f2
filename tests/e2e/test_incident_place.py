"""Where to go, one time zone and evidence for people (issue 14, items 1, 8 and 9), in Chromium against the
service process, a real mosquitto and the signature-checking receiver: a press shows the button's address
first and large, with landmark, coordinates and the names (never the ids) of grid, community and street, in
zh-CN and en and on a 390×844 phone; police get the place in the signed webhook body and subscribers on the
MQTT incident topic; times are Beijing time whatever the browser's zone; the KPIs' "today" is the server's
(configured) day. SHARPEYES_SCREENSHOTS=docs/screenshots refreshes incident-detail.png (zh-CN desktop),
incident-detail-en.png and incident-detail-phone.png."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect

from alarms.storage.store import Store
from dashboard.users import UserStore
from tests.e2e.conftest import PASSWORD
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config

pytestmark = pytest.mark.timeout(150)

ADDRESS = "人民路 12 号灯杆"
LANDMARK = "12 号楼下便利店门口"
IDS = ("G-001", "C-1", "S-1", "CAM-01")
NAMES = ("网格一", "人民路社区", "城关街道")
BEIJING = ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "America/New_York"  # the operator's PC set to another zone must not change what is shown

EXTRA: dict[str, Any] = {
    "grids": [
        {"id": "G-001", "name": "网格一", "community": "C-1", "street": "S-1"},
        {"id": "G-002", "name": "网格二", "community": "C-2", "street": "S-2"},
    ],
    "communities": [{"id": "C-1", "name": "人民路社区"}, {"id": "C-2", "name": "西山社区"}],
    "streets": [{"id": "S-1", "name": "城关街道"}, {"id": "S-2", "name": "西山街道"}],
    "buttons": [
        {
            "id": "B-001",
            "grid": "G-001",
            "cameras": ["CAM-01"],
            "location": {"address": ADDRESS, "landmark": LANDMARK, "lat": 31.2304, "lon": 121.4737},
        },
        {"id": "B-002", "grid": "G-002"},
    ],
    # Linked for its name only: not started (the place, not the video, is under test here).
    "cameras": [
        {
            "id": "CAM-01",
            "name": "人民路路口",
            "url": "file:///nonexistent/cam01.mp4",
            "grid": "G-001",
            "enabled": False,
            "rules": [{"kind": "fire"}],
        }
    ],
    "locale": {"timezone": "Asia/Shanghai"},
}


def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("SHARPEYES_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    db = tmp_path / "place.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    UserStore(store).add("wang", PASSWORD, "operator", display_name="王值班")
    store.close()
    cfg = write_config(
        tmp_path / "place.yaml", mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db, extra=EXTRA
    )
    svc = Service(tmp_path / "place.yaml", cfg, tmp_path / "place.log").start()
    yield svc
    svc.stop()


class TopicWatch:
    """What a subscriber of the MQTT incident topic hears."""

    def __init__(self, port: int, topic: str = "se/incidents/#") -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-place-watch")
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def wait(self, pred: Any, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.messages):
                if pred(m):
                    return m
            time.sleep(0.05)
        raise TimeoutError(f"no such MQTT message among {[t for t, _ in self.messages]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def open_page(browser: Browser, base: str, lang: str, viewport: tuple[int, int] = (1440, 900)) -> Page:
    """Signed in through the real form, in a browser whose clock runs in another zone."""
    w, hgt = viewport
    context = browser.new_context(
        viewport={"width": w, "height": hgt}, locale="zh-CN", timezone_id=BROWSER_ZONE, is_mobile=w < 600
    )
    page = context.new_page()
    page.add_init_script(f"localStorage.setItem('sharpeyes.lang', {lang!r})")
    page.goto(f"{base}/login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/ui/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#live-status[data-state='live']")
    return page


def press(port: int, button: str, seq: int, ts: float) -> None:
    sim = ButtonSim(port, client_id=f"e2e-place-{button}-{seq}")
    try:
        sim.send(button, seq=seq, ts=ts)
    finally:
        sim.close()


def wait_incident(svc: Service, source: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = [i for i in svc.get("/api/incidents").json()["items"] if i["source_id"] == source]
        if items:
            return items[0]
        time.sleep(0.05)
    raise TimeoutError(f"no incident from {source}")


def beijing(ts: float) -> str:
    return datetime.fromtimestamp(ts, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def open_detail(page: Page, incident_id: int) -> None:
    page.locator(f"#queue tr.incident[data-id='{incident_id}']").click()
    expect(page.locator("#detail-place")).to_be_visible()


def place_comes_first(page: Page) -> None:
    """The place is the panel's first section after the title, and larger than the rest of the panel."""
    order = page.evaluate(
        "[...document.querySelector('#detail .detail-top').children].map((e) => e.id || e.className)"
    )
    assert order[0].startswith("detail-head") and order[1] == "detail-place", order
    big = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#place-address')).fontSize)")
    body = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert big >= 20 and big >= 1.4 * body


def tall_screenshot(page: Page, path: Path) -> None:
    """The whole panel (place, evidence, timeline) in one picture for the README, then back to 1440×900."""
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 900})


def no_ids_in(text: str) -> None:
    for ident in IDS:
        assert ident not in text, f"{ident} shown to people: {text!r}"


def test_press_shows_where_to_go_first_and_tells_police_and_subscribers(
    browser: Browser, service: Service, mosquitto: Mosquitto, receiver, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    watch = TopicWatch(mosquitto.port)
    page = open_page(browser, service.base, "zh-CN")
    pressed_at = round(time.time() - 3, 3)  # the button's own clock: shown as when it was pressed
    try:
        press(mosquitto.port, "B-001", 1, pressed_at)
        inc = wait_incident(service, "B-001")
        open_detail(page, inc["id"])
        place = page.locator("#detail-place")
        expect(page.locator("#place-address")).to_have_text(ADDRESS)
        expect(page.locator("#place-landmark")).to_have_text(f"地标：{LANDMARK}")
        for label, cls, name in zip(
            ("网格", "社区", "街道"), ("grid", "community", "street"), NAMES, strict=True
        ):
            expect(place).to_contain_text(label)
            expect(place.locator(f".place-{cls}")).to_have_text(name)
        expect(place.locator(".place-coords")).to_have_text("北纬 31.23040°, 东经 121.47370°")
        expect(place).to_contain_text("人民路路口")  # the linked camera by name
        caption = page.locator("#linked-video .live-tile[data-camera='CAM-01'] figcaption strong")
        expect(caption).to_have_text("人民路路口")
        place_comes_first(page)
        no_ids_in(place.inner_text())
        queue_place = page.locator(f"#queue tr.incident[data-id='{inc['id']}'] td.place").inner_text()
        assert ADDRESS in queue_place and "网格一" in queue_place
        no_ids_in(queue_place)

        # Evidence for people, in Beijing time although the browser runs on New York's clock.
        human = page.locator("#evidence-human")
        expect(human).to_contain_text(beijing(pressed_at))
        assert not page.locator("#evidence-tech").evaluate("(d) => d.open")  # the raw record stays folded
        expect(page.locator("#evidence-tech summary")).to_have_text("技术详情")
        assert str(int(pressed_at)) not in human.inner_text()
        assert not page.locator("#evidence-tech dl").is_visible()
        page.locator("#detail button[data-action='acknowledge']").click()  # the alarm stops
        expect(page.locator("#detail-state")).to_have_text("已受理")
        tall_screenshot(page, shots(tmp_path) / "incident-detail.png")

        # Police: the signed webhook body carries the place.
        assert receiver.wait_for(
            lambda got: any(r.body["data"]["id"] == inc["id"] for r in got.values()), 10
        ), "no webhook for the press"
        (hook,) = [r.body for r in receiver.received.values() if r.body["type"] == "incident.created"]
        sent = hook["data"]["place"]
        assert (sent["address"], sent["landmark"]) == (ADDRESS, LANDMARK)
        assert (sent["lat"], sent["lon"]) == (31.2304, 121.4737)
        assert (sent["grid_name"], sent["community_name"], sent["street_name"]) == NAMES
        assert sent["cameras"] == [{"id": "CAM-01", "name": "人民路路口"}]
        # Subscribers of the MQTT incident topic hear the same place.
        topic, event = watch.wait(lambda m: m[1].get("data", {}).get("id") == inc["id"])
        assert topic == "se/incidents/G-001" and event["data"]["place"] == sent

        # English: the same place, labels in English, names as configured.
        page.select_option("#lang", "en")
        expect(place).to_contain_text(f"Landmark: {LANDMARK}")
        expect(place).to_contain_text("Community")
        expect(place.locator(".place-coords")).to_have_text("N 31.23040°, E 121.47370°")
        expect(page.locator("#evidence-tech summary")).to_have_text("Technical details")
        expect(page.locator("#evidence-human")).to_contain_text(beijing(pressed_at))
        no_ids_in(place.inner_text())
        tall_screenshot(page, shots(tmp_path) / "incident-detail-en.png")

        # The KPIs' "today" is asked of the server, which knows the configured zone.
        with page.expect_request(lambda r: "/api/kpis?period=today" in r.url):
            page.click("nav.tabs [data-view='kpis']")
    finally:
        watch.close()
        page.context.close()


def test_timeline_shows_beijing_time_whatever_the_browser_zone(
    browser: Browser, service: Service, mosquitto: Mosquitto
) -> None:
    page = open_page(browser, service.base, "zh-CN")
    try:
        press(mosquitto.port, "B-002", 7, time.time())
        inc = wait_incident(service, "B-002")
        open_detail(page, inc["id"])
        created = datetime.fromisoformat(inc["created_at"].replace("Z", "+00:00")).timestamp()
        shown = page.locator("#detail .timeline li time").last.inner_text()
        assert shown == beijing(created)
        in_browser_zone = datetime.fromtimestamp(created, ZoneInfo(BROWSER_ZONE)).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        assert shown != in_browser_zone
        # A button without an address still says where, by names, and says the address is missing.
        expect(page.locator("#place-address")).to_have_text("网格二")
        expect(page.locator("#detail-place")).to_contain_text("未登记地址")
        expect(page.locator("#detail-place")).to_contain_text("西山街道")
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_phone_shows_the_place_without_horizontal_scroll(
    browser: Browser, service: Service, mosquitto: Mosquitto, tmp_path: Path, lang: str
) -> None:
    page = open_page(browser, service.base, lang, viewport=(390, 844))
    try:
        press(mosquitto.port, "B-001", 21, time.time())
        inc = wait_incident(service, "B-001")
        open_detail(page, inc["id"])
        place = page.locator("#detail-place")
        # Live changes (the webhook landing) re-render the panel: scroll by selector, not by a held element.
        page.evaluate("document.querySelector('#detail-place').scrollIntoView()")
        expect(page.locator("#place-address")).to_have_text(ADDRESS)
        expect(place).to_be_in_viewport()
        widest = page.evaluate(
            "Math.max(...[...document.querySelectorAll('#detail-place, #detail-place *')]"
            ".map((e) => e.getBoundingClientRect().right))"
        )
        assert widest <= 390, f"the place reaches {widest}px on a 390px screen"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        if lang == "zh-CN":
            page.evaluate("document.querySelector('#detail').scrollIntoView(); window.scrollBy(0, -48)")
            page.screenshot(path=str(shots(tmp_path) / "incident-detail-phone.png"))
    finally:
        page.context.close()


CROWD = {  # what video/triggers.py stores for a crowd rule (alarms/rules/crowd.py), unix seconds and all
    "rule": "crowd@crossing",
    "level": "confirmed",
    "count": 14,
    "confidence": 0.873,
    "camera_id": "CAM-01",
    "zone": "crossing",
    "area_m2": 120,
    "density_per_m2": 0.1167,
    "threshold": 12,
    "captured_at": 1714552215.25,  # 2024-05-01 08:30:15 UTC = 16:30:15 in Beijing
    "episode_start": 1714552200.0,
    "snapshot": "CAM-01/20240501T083015250-crowd-confirmed.jpg",
}
FIRE = {"rule": "fire", "level": "suspected", "score": 0.61, "area_frac": 0.032, "captured_at": 1714552215.25}


@pytest.mark.parametrize(
    ("lang", "crowd", "fire"),
    [
        (
            "zh-CN",
            {
                "发现时间": "2024-05-01 16:30:15",
                "判定": "已确认",
                "置信度": "87%",
                "区域": "路口",
                "面积": "120 平方米",
                "人数": "14 人",
                "密度": "每平方米 0.12 人",
                "报警阈值": "12 人",
            },
            {"置信度": "61%", "面积": "占画面 3%", "判定": "疑似"},
        ),
        (
            "en",
            {
                "Seen at": "2024-05-01 16:30:15",
                "Verdict": "confirmed",
                "Confidence": "87%",
                "Area": "crossing",
                "Size": "120 m²",
                "People": "14 people",
                "Density": "0.12 people/m²",
                "Alarm threshold": "12 people",
            },
            {"Confidence": "61%", "Size": "3% of the picture", "Verdict": "suspected"},
        ),
    ],
)
def test_camera_evidence_reads_as_people_say_it(
    browser: Browser, service: Service, lang: str, crowd: dict[str, str], fire: dict[str, str]
) -> None:
    """The page's own evidence module in Chromium, on a crowd and a fire record: percentages, square
    metres, people and people/m² in Beijing time; the stored keys and unix floats only in the folded
    technical details."""
    page = open_page(browser, service.base, lang)
    try:
        shown = page.evaluate(
            """async ([crowd, fire]) => {
              const { evidenceView } = await import("/static/js/evidence.js");
              const read = (ev) => {
                const box = document.createElement("div");
                box.append(...evidenceView(ev, 1).filter(Boolean));
                document.body.append(box);
                const dts = [...box.querySelectorAll("#evidence-human dt")].map((e) => e.textContent);
                const dds = [...box.querySelectorAll("#evidence-human dd")].map((e) => e.textContent);
                const tech = box.querySelector("details.tech");
                const out = { human: Object.fromEntries(dts.map((k, i) => [k, dds[i]])),
                  humanText: box.querySelector("#evidence-human").innerText,
                  techOpen: tech.open, techVisible: tech.querySelector("dl").checkVisibility(),
                  techText: tech.textContent, summary: tech.querySelector("summary").textContent };
                box.remove();
                return out;
              };
              return [read(crowd), read(fire)];
            }""",
            [CROWD, FIRE],
        )
    finally:
        page.context.close()
    (c, f) = shown
    for key, value in crowd.items():
        assert c["human"].get(key) == value, (key, c["human"])
    for key, value in fire.items():
        assert f["human"].get(key) == value, (key, f["human"])
    for record in (c, f):
        assert record["techOpen"] is False and record["techVisible"] is False
        assert record["summary"] == ("技术详情" if lang == "zh-CN" else "Technical details")
        assert "1714552215" not in record["humanText"] and "captured_at" not in record["humanText"]
        assert "1714552215.25" in record["techText"] and "captured_at" in record["techText"]


TAMPER = {
    "kind": "cover",
    "kinds": ["cover", "dark"],
    "camera_id": "CAM-01",
    "snapshot": "CAM-01/after.jpg",
    "snapshot_after": "CAM-01/after.jpg",
    "snapshot_before": "CAM-01/before.jpg",
    "measures": {"edges": 0.01},
}


@pytest.mark.parametrize(
    ("lang", "kinds", "captions"),
    [
        ("zh-CN", "镜头被遮挡 · 画面过暗", ["正常画面（参考）", "当前画面"]),
        ("en", "Lens covered · Too dark", ["Before (reference)", "Now"]),
    ],
)
def test_tampered_camera_shows_its_kind_and_the_scene_before_and_now(
    browser: Browser, service: Service, lang: str, kinds: str, captions: list[str]
) -> None:
    """A `camera_tamper` record: the kinds in words, the reference picture beside the current one."""
    page = open_page(browser, service.base, lang)
    try:
        shown = page.evaluate(
            """async (ev) => {
              const { evidenceView } = await import("/static/js/evidence.js");
              const box = document.createElement("div");
              box.append(...evidenceView(ev, 7).filter(Boolean));
              document.body.append(box);
              const dts = [...box.querySelectorAll("#evidence-human dt")].map((e) => e.textContent);
              const dds = [...box.querySelectorAll("#evidence-human dd")].map((e) => e.textContent);
              const figs = [...box.querySelectorAll("#evidence-before-after figure")];
              return { human: Object.fromEntries(dts.map((k, i) => [k, dds[i]])),
                captions: figs.map((f) => f.querySelector("figcaption").textContent),
                srcs: figs.map((f) => f.querySelector("img").getAttribute("src")) };
            }""",
            TAMPER,
        )
    finally:
        page.context.close()
    assert kinds in shown["human"].values(), shown["human"]
    assert shown["captions"] == captions
    assert shown["srcs"] == [f"/api/incidents/7/snapshot?level={lv}" for lv in ("before", "after")]
