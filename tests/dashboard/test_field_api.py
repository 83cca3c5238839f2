"""The field loop through the HTTP API on SQLite (issue 15): roster, dispatch to named people, notices in
the outbox, the worker's accept/arrive/photo/resolve, review (return once, then close), 回访 (不满意 reopens,
then 满意), the KPIs; bad uploads refused with nothing lost; a missed accept deadline escalates."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pillow_heif import register_heif_opener
from sqlalchemy import select

from alarms import roster
from alarms.field_config import FieldConfig, PersonConfig, Shift, UnitConfig
from alarms.queries import Scope
from alarms.storage.schema import field_photos, outbox, timeline
from dashboard.app import create_app
from dashboard.auth import Principal, TokenBook
from tests.dashboard.test_api import T0, TOKENS, FakeRuntime, auth

FIELD_TOKENS = {
    "zhang": ("tok-zhang", Principal("zhang", "field", Scope(grids=frozenset({"G-001"})))),
    "li": ("tok-li", Principal("li", "field", Scope(grids=frozenset({"G-003"})))),
}
PEOPLE = [
    PersonConfig(
        id="P-zhang", name="张伟", role="grid_worker", phone="13800000001", grids=["G-001"], username="zhang"
    ),
    PersonConfig(id="P-wang", name="王警官", role="police", unit="U-pcs", grids=["G-001"]),
    PersonConfig(
        id="P-night",
        name="夜班员",
        role="grid_worker",
        grids=["G-001"],
        shifts=[Shift(start="22:00", end="06:00")],
    ),
    PersonConfig(id="P-li", name="李娜", role="grid_worker", grids=["G-003"], username="li"),
]
UNITS = [UnitConfig(id="U-pcs", name="东城派出所", kind="police_station", grids=["G-001"])]


def fauth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {FIELD_TOKENS[who][0]}"}


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[FakeRuntime]:
    rt = FakeRuntime(tmp_path / "field.db")
    rt.services.tokens = TokenBook.build([*TOKENS.values(), *FIELD_TOKENS.values()])
    rt.services.field = FieldConfig(gateway="police", photo_max_bytes=2_000_000)
    rt.services.photos_dir = str(tmp_path / "photos")
    with rt.store.write() as conn:
        roster.seed(conn, PEOPLE, UNITS, T0)
    yield rt
    rt.store.close()


@pytest.fixture
def client(rt: FakeRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:
        yield c


def jpeg(gps: bool = False) -> bytes:
    img = Image.new("RGB", (640, 480), (200, 40, 40))
    out = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 23.0, 0.0)}
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def heic() -> bytes:
    """A real HEIC, as an iPhone sends it, with a GPS position in its EXIF (made by pillow-heif itself)."""
    register_heif_opener()
    img = Image.new("RGB", (640, 480), (40, 120, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 23.0, 0.0)}
    out = io.BytesIO()
    img.save(out, "HEIF", exif=exif.tobytes(), quality=60)
    return out.getvalue()


def test_a_heic_from_a_phone_is_kept_with_its_location_and_served_as_plain_jpeg(
    client: TestClient, rt: FakeRuntime
) -> None:
    incident = sent(client, rt)
    data = heic()
    assert data[4:12] == b"ftypheic"
    headers = {**fauth("zhang"), "content-type": "application/octet-stream"}  # the name and type mean nothing
    saved = ok(client.post(f"/api/field/incidents/{incident}/photos", content=data, headers=headers), 201)
    with rt.store.read() as conn:
        row = conn.execute(select(field_photos)).mappings().one()
    assert row["media_type"] == "image/heic" and (row["width"], row["height"]) == (640, 480)
    assert row["exif_location"] == {"lat": 39.9, "lon": 116.3833333}
    served = client.get(saved["url"], headers=auth("operator"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.content.startswith(b"\xff\xd8\xff")
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "JPEG" and not image.getexif() and "exif" not in image.info


def ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()


def sent(client: TestClient, rt: FakeRuntime, lead: str = "P-zhang") -> int:
    """An SOS on B-001 (grid G-001) with ``lead`` dispatched to it by an operator."""
    incident = rt.press("B-001")
    body = {"lead": {"id": lead}}
    ok(client.post(f"/api/field/incidents/{incident}/dispatch", json=body, headers=auth("operator")))
    return incident


def test_roster_lists_the_grid_worker_first_and_the_night_shift_last(
    client: TestClient, rt: FakeRuntime
) -> None:
    incident = rt.press("B-001")  # an SOS: the grid's police officer right after its worker
    body = ok(client.get("/api/field/roster", params={"incident": incident}, headers=auth("operator")))
    assert [p["name"] for p in body["people"]] == ["张伟", "王警官", "夜班员"]
    assert [p["on_duty"] for p in body["people"]] == [True, True, False]  # T0 is 06:13 in Shanghai
    assert body["units"][0]["name"] == "东城派出所"
    assert body["grid_name"] == "G-001"
    r = client.get("/api/field/roster", params={"grid": "G-003"}, headers=fauth("zhang"))
    assert r.status_code == 404  # out of the worker's grids


def _upload(client: TestClient, incident: int, data: bytes, who: str = "zhang") -> Any:
    headers = {**fauth(who), "content-type": "image/jpeg"}
    return client.post(f"/api/field/incidents/{incident}/photos", content=data, headers=headers)


def test_the_whole_loop(client: TestClient, rt: FakeRuntime) -> None:
    incident = rt.press("B-001")
    body = {"lead": {"id": "P-zhang"}, "helpers": [{"id": "U-pcs", "kind": "unit"}], "note": "请速到场"}
    inc = ok(client.post(f"/api/field/incidents/{incident}/dispatch", json=body, headers=auth("operator")))
    assert inc["state"] == "dispatched" and inc["assignee"] == "张伟"
    with rt.store.read() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.event_type == "field.notice")).mappings().all()
    targets = sorted((r["channel"], r["target"]) for r in rows)
    assert targets == [("mqtt", "t/people/P-zhang/tasks"), ("webhook", "police"), ("webhook", "police")]
    notice = json.loads(rows[0]["payload"])["data"]
    assert notice["to"]["name"] == "张伟" and "请于" in notice["text_zh"] and notice["accept_by"]

    tasks = ok(client.get("/api/field/tasks", headers=fauth("zhang")))
    assert [t["incident"]["id"] for t in tasks["tasks"]] == [incident]
    assert (
        ok(client.post(f"/api/field/incidents/{incident}/accept", headers=fauth("zhang")))["state"]
        == "in_progress"
    )
    where = {"lat": 39.9, "lon": 116.38, "accuracy": 12}
    ok(client.post(f"/api/field/incidents/{incident}/arrive", json=where, headers=fauth("zhang")))
    photo = ok(_upload(client, incident, jpeg(gps=True)), 201)
    assert photo["has_location"] and photo["media_type"] == "image/jpeg"
    served = client.get(photo["url"], headers=auth("operator"))
    assert served.status_code == 200 and not Image.open(io.BytesIO(served.content)).getexif()
    assert client.get(photo["thumb_url"], headers=auth("operator")).status_code == 200
    resolve = {"result": "handled", "note": "已处置", "photos": [photo["id"]]}
    inc = ok(client.post(f"/api/field/incidents/{incident}/resolve", json=resolve, headers=fauth("zhang")))
    assert inc["state"] == "resolved" and inc["evidence"]["photos"][0]["url"].endswith(photo["url"])

    back = {"decision": "return", "reason": "照片不清楚"}
    assert (
        ok(client.post(f"/api/field/incidents/{incident}/review", json=back, headers=auth("operator")))[
            "state"
        ]
        == "in_progress"
    )
    ok(client.post(f"/api/field/incidents/{incident}/resolve", json=resolve, headers=fauth("zhang")))
    close = {"decision": "close"}
    assert (
        ok(client.post(f"/api/field/incidents/{incident}/review", json=close, headers=auth("operator")))[
            "state"
        ]
        == "closed"
    )
    bad = {"satisfaction": "unsatisfied", "note": "噪音仍在", "reopen": True}
    assert (
        ok(client.post(f"/api/field/incidents/{incident}/callback", json=bad, headers=auth("operator")))[
            "state"
        ]
        == "in_progress"
    )
    ok(client.post(f"/api/field/incidents/{incident}/resolve", json=resolve, headers=fauth("zhang")))
    ok(client.post(f"/api/field/incidents/{incident}/review", json=close, headers=auth("operator")))
    good = {"satisfaction": "satisfied", "note": "满意"}
    assert (
        ok(client.post(f"/api/field/incidents/{incident}/callback", json=good, headers=auth("operator")))[
            "state"
        ]
        == "evaluated"
    )

    view = ok(client.get(f"/api/field/incidents/{incident}", headers=auth("operator")))
    assert view["assignments"][0]["name"] == "张伟" and view["assignments"][0]["status"] == "arrived"
    assert {n["to"] for n in view["notices"]} == {"张伟", "东城派出所"}
    kpis = ok(client.get("/api/field/kpis", headers=auth("operator")))
    assert kpis["overall"]["satisfaction_rate"] == 1.0 and kpis["overall"]["closure_rate"] == 1.0
    assert kpis["workers"]["P-zhang"]["name"] == "张伟"
    with rt.store.read() as conn:
        actions = [
            r[0] for r in conn.execute(select(timeline.c.action).where(timeline.c.incident_id == incident))
        ]
    for action in ("dispatch", "accept", "arrive", "resolve", "return", "close", "reopen", "evaluate"):
        assert action in actions


def test_the_worker_acts_only_on_what_they_were_sent_to(client: TestClient, rt: FakeRuntime) -> None:
    incident = sent(client, rt, "P-wang")
    r = client.post(f"/api/field/incidents/{incident}/accept", headers=fauth("zhang"))
    assert r.status_code == 409 and r.json()["code"] == "field_not_assigned"
    assert client.post(f"/api/field/incidents/{incident}/accept", headers=fauth("li")).status_code == 404
    assert client.post(f"/api/field/incidents/{incident}/accept", headers=auth("operator")).status_code == 403
    assert (
        client.post(
            f"/api/field/incidents/{incident}/dispatch",
            json={"lead": {"id": "P-wang"}},
            headers=fauth("zhang"),
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"%PDF-1.7\n" + b"x" * 5000, 415, "photo_type"),
        (jpeg()[:-2000], 422, "photo_corrupt"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100, 422, "photo_corrupt"),
        (heic()[:-50], 422, "photo_corrupt"),  # cut inside the last box: libheif alone would decode it
        (heic()[: len(heic()) // 2], 422, "photo_corrupt"),
    ],
)
def test_bad_uploads_are_refused_and_keep_what_was_saved(
    client: TestClient, rt: FakeRuntime, data: bytes, status: int, code: str
) -> None:
    incident = sent(client, rt)
    first = ok(_upload(client, incident, jpeg()), 201)
    r = _upload(client, incident, data)
    assert (r.status_code, r.json()["code"]) == (status, code)
    with rt.store.read() as conn:
        assert [p[0] for p in conn.execute(select(field_photos.c.id))] == [first["id"]]
    assert client.get(first["url"], headers=auth("operator")).status_code == 200


def test_a_50_mb_upload_is_refused_before_it_is_read(client: TestClient, rt: FakeRuntime) -> None:
    incident = rt.press("B-001")
    r = _upload(client, incident, b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024))
    assert r.status_code == 413
    with rt.store.read() as conn:
        assert conn.execute(select(field_photos.c.id)).first() is None


def test_a_missed_accept_deadline_escalates_on_the_timeline_and_in_the_webhook(
    client: TestClient, rt: FakeRuntime
) -> None:
    incident = sent(client, rt)
    rt.clock.now += 119
    assert rt.engine.tick() == []
    rt.clock.now += 2  # sos: accept within 120 s
    (change,) = rt.engine.tick()
    assert change.action == "escalate" and change.incident.escalation_level == 1
    assert rt.engine.tick() == []  # once per missed deadline
    with rt.store.read() as conn:
        entry = conn.execute(
            select(timeline.c.data).where(timeline.c.incident_id == incident, timeline.c.action == "escalate")
        ).scalar_one()
        hooks = conn.execute(
            select(outbox.c.payload).where(
                outbox.c.event_type == "incident.escalated", outbox.c.channel == "webhook"
            )
        ).all()
    assert entry["code"] == "accept_missed_escalated" and entry["people"] == ["张伟"]
    assert json.loads(hooks[0][0])["data"]["change"]["action"] == "escalate"


def test_grids_list_who_is_on_duty_now(client: TestClient, rt: FakeRuntime) -> None:
    """`/api/grids` names each grid's people on shift now (the night shift is not, at 06:13 in Shanghai)."""
    grids = {g["id"]: g for g in ok(client.get("/api/grids", headers=auth("operator")))["items"]}
    assert [(p["name"], p["role"]) for p in grids["G-001"]["on_duty"]] == [
        ("王警官", "police"),
        ("张伟", "grid_worker"),
    ]
    assert grids["G-001"]["on_duty"][1]["phone"] == "13800000001"
    assert [p["name"] for p in grids["G-003"]["on_duty"]] == ["李娜"]
