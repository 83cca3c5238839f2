"""Merges that cannot go wrong, in Chromium against the service process and a real mosquitto: the merge form
offers candidates (same street, same category first, nearest in time), never a typed id; refusals come back
as coded, translated errors; both timelines say so; dispatch hears `incident.merged`; the pole of the
merged SOS hears its target's acknowledgement. SHARPEYES_SCREENSHOTS=docs/screenshots refreshes merge.png."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_operator_page import row, shots, wait_incident
from tests.support.browser import sign_in
from tests.support.buttons import ButtonSim
from tests.support.service import Service

pytestmark = pytest.mark.timeout(150)


def _press(mosquitto: Any, svc: Service, buttons: list[str]) -> dict[str, int]:
    sim = ButtonSim(mosquitto.port, client_id="e2e-merge")
    ids: dict[str, int] = {}
    try:
        for b in buttons:
            sim.send(b, seq=1)
            ids[b] = wait_incident(svc, b)["id"]
            time.sleep(0.3)  # apart in time: the candidates are ordered by it
    finally:
        sim.close()
    return ids


def _api_as(page: Page, path: str, body: dict | None = None) -> dict:
    """The page's own API client (session cookie, CSRF): the error's code and its translated text."""
    return page.evaluate(
        """async ([path, body]) => {
          const { api } = await import('/static/js/api.js');
          try { return { ok: await api(path, body ? { method: 'POST', body } : {}) }; }
          catch (e) { return { status: e.status, code: e.code, message: e.message }; }
        }""",
        [path, body],
    )


class AckListener:
    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-ack")
        self.client.on_message = lambda _c, _u, m: self.messages.append(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, 1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_merge_chooser_refusals_timelines_webhook_and_button_ack(
    browser: Browser, service: Service, mosquitto: Any, receiver: Any, tmp_path: Path
) -> None:
    acks = AckListener(mosquitto.port, "se/buttons/B-001/ack")
    # B-001, B-003, B-005: grid G-001 of street S-1; B-002: G-002 of street S-2.
    ids = _press(mosquitto, service, ["B-001", "B-003", "B-005", "B-002"])
    src, near, far, s2 = ids["B-001"], ids["B-003"], ids["B-005"], ids["B-002"]

    # Candidates: same street only, in scope, nearest first among same category and grid.
    items = service.get(f"/api/incidents/{src}/merge-candidates").json()["items"]
    assert [c["id"] for c in items] == [near, far]
    assert all(c["same_category"] and c["same_grid"] for c in items)

    page = sign_in(browser, service.base, "wang", PASSWORD)
    # Refusals: coded, and said in Chinese on the page.
    refused = {
        "self": _api_as(page, f"/api/incidents/{src}/merge", {"merged_into": src}),
        "other_street": _api_as(page, f"/api/incidents/{src}/merge", {"merged_into": s2}),
    }
    assert (
        service.post(f"/api/incidents/{far}/cancel", {"note": "test", "disposition": "test"}).status_code
        == 200
    )
    refused["finished"] = _api_as(page, f"/api/incidents/{src}/merge", {"merged_into": far})
    assert {k: (v["status"], v["code"]) for k, v in refused.items()} == {
        "self": (422, "merge_self"),
        "other_street": (422, "merge_other_street"),
        "finished": (422, "merge_target_finished"),
    }
    assert refused["self"]["message"] == "不能把事件并入它自己"
    assert refused["finished"]["message"] == "目标事件已结束，只能并入处理中的事件"
    s2_page = sign_in(browser, service.base, "li-s2", PASSWORD)  # street S-2 only
    out_of_scope = _api_as(s2_page, f"/api/incidents/{s2}/merge", {"merged_into": src})
    assert (out_of_scope["status"], out_of_scope["code"]) == (422, "merge_target_missing")
    s2_page.context.close()
    assert service.get(f"/api/incidents/{src}").json()["state"] == "reported"

    # The chooser: candidates with their reasons, no id field; the finished one is gone.
    row(page, src).click()
    page.click("#detail [data-action='merge']")
    chooser = page.locator("#merge-candidates")
    expect(chooser.locator("label.merge-candidate")).to_have_count(1)
    expect(chooser.locator(f"label[data-candidate='{near}']")).to_contain_text("同类")
    assert page.locator("#detail input[name='merged_into']").count() == 0
    page.click("#detail button[data-submit='merge']")  # nothing chosen yet
    expect(page.locator("#detail .error")).to_contain_text("请先选择要并入的事件")
    chooser.locator(f"label[data-candidate='{near}'] input").check()
    page.screenshot(path=str(shots(tmp_path) / "merge.png"), full_page=True)
    page.click("#detail button[data-submit='merge']")
    expect(page.locator("#detail-state")).to_have_text("已合并")
    expect(page.locator("#detail-merged-into a")).to_have_text(f"#{near}")

    # The target's timeline names the merged incident; following the link opens it.
    page.click("#detail-merged-into a")
    expect(page.locator("#detail .timeline li[data-action='merged_in']")).to_contain_text(
        f"事件 #{src} 已并入本事件"
    )
    merged = service.get(f"/api/incidents/{src}").json()
    assert merged["timeline"][-1]["action"] == "merge" and merged["merged_into"] == near

    # Dispatch hears the merge as its own event, with the target named.
    def merged_hook(received: dict) -> list[dict]:
        return [r.body for r in received.values() if r.body["type"] == "incident.merged"]

    assert receiver.wait_for(lambda r: merged_hook(r), 10)
    body = merged_hook(receiver.received)[0]
    assert (body["data"]["id"], body["data"]["merged_into"], body["data"]["state"]) == (src, near, "merged")

    # The merged SOS's pole hears when its target is acknowledged.
    page.click("#detail [data-action='acknowledge']")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(m["type"] == "acknowledged" for m in acks.messages):
        time.sleep(0.05)
    acks.close()
    [ack] = [m for m in acks.messages if m["type"] == "acknowledged"]
    assert (ack["incident_id"], ack["merged_into"], ack["message_zh"]) == (src, near, "已受理，请保持冷静")
    page.context.close()
