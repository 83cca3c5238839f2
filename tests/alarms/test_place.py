"""Where to go (issue 14, item 1): a button's address, landmark and coordinates and a camera's name and
location reach the incident, with the names (not ids) of grid, community and street, and travel in the
API body, the webhook body and the MQTT incident topic; the place survives the JetStream hop."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.config import AreaName, GridConfig, SlaConfig
from alarms.contracts import IncidentBody
from alarms.delivery.outbox import Routing
from alarms.engine import IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.storage.store import Store
from alarms.triggers import Trigger
from jetstream.observations import BusMessage
from tests.alarms.conftest import PREFIX, Clock, hook, signal

GRIDS = [
    GridConfig(id="G-001", name="网格一", community="C-1", street="S-1"),
    GridConfig(id="G-002", community="C-9", street="S-9"),  # nothing named: ids stand in
]
LOCATION = {"address": "人民路 12 号灯杆", "landmark": "便利店门口", "lat": 31.2304, "lon": 121.4737}


def named_directory() -> GridDirectory:
    d = GridDirectory.build(
        GRIDS,
        communities=[AreaName(id="C-1", name="人民路社区")],
        streets=[AreaName(id="S-1", name="城关街道")],
        camera_names={"CAM-01": "人民路路口", "CAM-02": ""},
    )
    d.place("B-001", "G-001", ("CAM-01", "CAM-02"), dict(LOCATION))
    d.place("B-002", "G-002")
    return d


def test_the_directory_names_places_and_falls_back_to_ids() -> None:
    d = named_directory()
    assert d.placement("B-001").place == {  # type: ignore[union-attr]
        **LOCATION,
        "grid_name": "网格一",
        "community_name": "人民路社区",
        "street_name": "城关街道",
        "source_name": None,
        "cameras": [{"id": "CAM-01", "name": "人民路路口"}, {"id": "CAM-02", "name": "CAM-02"}],
    }
    bare = d.placement("B-002").place  # type: ignore[union-attr]
    assert (bare["grid_name"], bare["community_name"], bare["street_name"]) == ("G-002", "C-9", "S-9")
    assert bare["address"] is None and bare["lat"] is None and bare["cameras"] == []
    cam = d.camera_placement("CAM-01", "G-001", "人民路路口", {"address": "人民路与解放路交叉口"})
    assert cam.place["source_name"] == "人民路路口" and cam.place["address"] == "人民路与解放路交叉口"
    assert cam.cameras == ("CAM-01",) and cam.community_id == "C-1"
    assert d.grid_placement("G-001").place["street_name"] == "城关街道"


def _engine(store: Store, clock: Clock) -> IncidentEngine:
    return IncidentEngine(
        store,
        named_directory(),
        SlaConfig(),
        Routing([hook()], PREFIX),
        AlarmMetrics(CollectorRegistry()),
        clock=lambda: clock.now,
    )


def _payloads(store: Store, incident_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    from sqlalchemy import select

    from alarms.storage.schema import outbox

    with store.read() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.incident_id == incident_id)).mappings().all()
    return [(r["channel"], r["target"], json.loads(r["payload"])) for r in rows]


def test_a_press_carries_its_place_to_api_webhook_and_mqtt(store: Store, clock: Clock) -> None:
    engine = _engine(store, clock)
    (change, *_) = engine.ingest_signal(signal("B-001", 1, "press", clock.now))
    incident_id = change.incident.id
    clock.advance(2)
    engine.ingest_signal(signal("B-001", 2, "press", clock.now))  # a retrigger keeps the place
    engine.act(incident_id, "acknowledge", "op", None)
    stored = engine.get(incident_id)  # read back from the database
    body = stored.public(clock.now)
    assert body["place"]["address"] == "人民路 12 号灯杆"
    assert body["place"]["landmark"] == "便利店门口"
    assert (body["place"]["lat"], body["place"]["lon"]) == (31.2304, 121.4737)
    assert body["place"]["street_name"] == "城关街道"
    IncidentBody.model_validate(body, strict=True)
    sent = _payloads(store, incident_id)
    webhooks = [p for channel, _, p in sent if channel == "webhook"]
    topics = [p for channel, target, p in sent if channel == "mqtt" and "/incidents/" in target]
    assert len(webhooks) >= 2 and topics  # created, retrigger, acknowledge (as routing says)
    for event in webhooks + topics:
        assert event["data"]["place"] == body["place"]


def test_a_camera_incident_names_the_camera(store: Store, clock: Clock) -> None:
    engine = _engine(store, clock)
    placement = engine.directory.camera_placement(
        "CAM-01", "G-001", "人民路路口", {"lat": 31.2, "lon": 121.4}
    )
    trig = Trigger("fire", "camera", "CAM-01", placement, clock.now, "fire confirmed", certainty="Observed")
    change = engine.observe_condition(trig)
    assert change is not None
    place = engine.get(change.incident.id).public(clock.now)["place"]
    assert place["source_name"] == "人民路路口" and place["grid_name"] == "网格一"
    assert place["address"] is None and (place["lat"], place["lon"]) == (31.2, 121.4)


def test_an_incident_from_before_places_has_none(store: Store, clock: Clock) -> None:
    """Rows written before migration 0004 have no place: the body says null, and stays in contract."""
    from sqlalchemy import update

    from alarms.storage.schema import incidents

    engine = _engine(store, clock)
    (change, *_) = engine.ingest_signal(signal("B-002", 1, "press", clock.now))
    with store.write() as conn:
        conn.execute(update(incidents).where(incidents.c.id == change.incident.id).values(place=None))
    fresh = _engine(store, clock)  # a new process: no cached copy
    body = fresh.get(change.incident.id).public(clock.now)
    assert body["place"] is None
    IncidentBody.model_validate(body, strict=True)


def test_the_place_survives_the_observation_bus() -> None:
    placement = named_directory().camera_placement("CAM-01", "G-001", "人民路路口", dict(LOCATION))
    trig = Trigger("fire", "camera", "CAM-01", placement, 1.0, "fire suspected", certainty="Likely")
    decoded = BusMessage.decode(BusMessage("observe", trigger=trig).encode())
    assert decoded.trigger is not None and decoded.trigger.placement.place == placement.place
