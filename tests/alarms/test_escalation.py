"""SLA deadlines and escalation (community → street → district) with a settable clock."""

from __future__ import annotations

import json

import pytest

from alarms.config import Deadline, SlaConfig
from alarms.engine import Trigger
from alarms.lifecycle import ESCALATION_LEVELS, escalation_level_due

T0 = 1_700_000_000.0  # the rig's clock starts here (conftest.T0)


@pytest.mark.parametrize(
    ("now", "every", "level"),
    [
        (99.0, 10.0, 0),
        (99.999, 10.0, 0),
        (100.0, 10.0, 1),
        (109.9, 10.0, 1),
        (110.0, 10.0, 2),
        (119.9, 10.0, 2),
        (120.0, 10.0, 3),
        (130.0, 10.0, 3),
        (10_000.0, 10.0, 3),
        (100.0, 0.5, 1),
        (101.0, 0.5, 3),
    ],
)
def test_escalation_level_due(now: float, every: float, level: int) -> None:
    assert escalation_level_due(100.0, every, now) == level


def test_levels_are_named() -> None:
    assert ESCALATION_LEVELS == ("grid", "community", "street", "district")


def _escalations(rig, incident_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(e["version"], e["note"]) for e in rig.timeline(incident_id) if e["action"] == "escalate"]


def test_sos_escalates_step_by_step(rig) -> None:  # type: ignore[no-untyped-def]
    [change] = rig.press(seq=1)
    inc_id = change.incident.id  # sos: acknowledge within 60 s, escalate every 60 s after
    script = [
        (T0 + 59.9, None),
        (T0 + 60.0, 1),
        (T0 + 60.5, None),
        (T0 + 119.9, None),
        (T0 + 120.0, 2),
        (T0 + 179.0, None),
        (T0 + 180.0, 3),
        (T0 + 240.0, None),
        (T0 + 100_000.0, None),
    ]
    version = 1
    for now, level in script:
        rig.clock.now = now
        changes = rig.engine.tick()
        inc = rig.engine.get(inc_id)
        if level is None:
            assert changes == [], f"unexpected escalation at +{now - T0}"
        else:
            version += 1
            [c] = changes
            assert (c.action, c.incident.escalation_level, c.incident.version) == ("escalate", level, version)
            assert inc.updated_at == now
        assert inc.version == version
    assert inc.escalation_level == 3 and inc.state == "reported"
    notes = _escalations(rig, inc_id)
    assert [v for v, _ in notes] == [2, 3, 4]
    assert [n.rsplit(" ", 1)[-1] for _, n in notes] == ["community", "street", "district"]
    for level in ("community", "street", "district"):
        assert rig.registry.get_sample_value("sharpeyes_escalations_total", {"level": level}) == 1.0


def test_late_tick_jumps_levels_once(rig) -> None:  # type: ignore[no-untyped-def]
    rig.press(seq=1)
    rig.clock.now = T0 + 150  # one tick after a long pause: straight to street, one change
    [c] = rig.engine.tick()
    assert (c.incident.escalation_level, c.incident.version) == (2, 2)
    assert rig.engine.tick() == []


def test_tick_takes_explicit_now(rig) -> None:  # type: ignore[no-untyped-def]
    rig.press(seq=1)
    assert rig.engine.tick(T0 + 10) == []
    assert [c.incident.escalation_level for c in rig.engine.tick(T0 + 60)] == [1]


@pytest.mark.parametrize(
    "path",
    [
        ["acknowledge"],
        ["acknowledge", "dispatch"],
        ["cancel"],
    ],
)
def test_handled_incidents_do_not_escalate(rig, path: list[str]) -> None:  # type: ignore[no-untyped-def]
    [change] = rig.press(seq=1)
    rig.clock.advance(30)
    for action in path:
        rig.engine.act(change.incident.id, action, "op", "n", assignee="u")
    before = rig.engine.get(change.incident.id)
    for dt in (60, 120, 600, 10_000):
        assert rig.engine.tick(T0 + dt) == []
    assert rig.engine.get(change.incident.id) == before


def test_acknowledge_after_escalation_stops_it(rig) -> None:  # type: ignore[no-untyped-def]
    [change] = rig.press(seq=1)
    assert len(rig.engine.tick(T0 + 60)) == 1
    rig.clock.now = T0 + 70
    rig.engine.act(change.incident.id, "acknowledge", "op")
    assert rig.engine.tick(T0 + 500) == []
    inc = rig.engine.get(change.incident.id)
    assert (inc.escalation_level, inc.state) == (1, "acknowledged")


def test_escalated_outbox_rows(rig) -> None:  # type: ignore[no-untyped-def]
    rig.press(seq=1)
    n = len(rig.outbox_rows())
    [c] = rig.engine.tick(T0 + 61)
    rows = rig.outbox_rows()[n:]
    assert sorted((r["channel"], r["target"]) for r in rows) == [
        ("mqtt", "se-test/incidents/G-001"),
        ("webhook", "police"),
    ]
    assert {r["event_type"] for r in rows} == {"incident.escalated"}
    assert sorted(r["msg_id"] for r in rows) == sorted(i.msg_id for i in c.outbox)
    body = json.loads(rows[0]["payload"])
    assert body["type"] == "incident.escalated"
    assert (body["data"]["escalation_level"], body["data"]["escalation_to"]) == (1, "community")
    assert body["data"]["ack_overdue"] is True
    assert body["data"]["change"] == {
        "action": "escalate",
        "actor": "system",
        "note": "acknowledge deadline missed: escalated to community",
        "version": 2,
    }


def test_only_overdue_incidents_escalate(rig) -> None:  # type: ignore[no-untyped-def]
    [a] = rig.press("B-001", seq=1)
    rig.clock.advance(40)
    [b] = rig.press("B-002", seq=1)
    changed = rig.engine.tick(T0 + 60)
    assert [c.incident.id for c in changed] == [a.incident.id]
    assert sorted(c.incident.id for c in rig.engine.tick(T0 + 100)) == [b.incident.id]


@pytest.mark.parametrize(
    ("sla", "category", "ack_s", "close_s", "steps"),
    [
        # custom deadline for sos; escalation every acknowledge_s
        (
            SlaConfig(categories={"sos": Deadline(acknowledge_s=10, close_s=100)}),
            "sos",
            10,
            100,
            [10, 20, 30],
        ),
        # escalate_every_s overrides the step
        (
            SlaConfig(categories={"sos": Deadline(acknowledge_s=10, close_s=100)}, escalate_every_s=5),
            "sos",
            10,
            100,
            [10, 15, 20],
        ),
        # a category missing from sla.categories falls back to the built-in default for it
        (
            SlaConfig(categories={"sos": Deadline(acknowledge_s=10, close_s=100)}),
            "fire",
            60,
            3600,
            [60, 120, 180],
        ),
        # unknown to both: sla.default
        (
            SlaConfig(default=Deadline(acknowledge_s=30, close_s=40), categories={}),
            "gathering",
            30,
            40,
            [30, 60, 90],
        ),
        (SlaConfig(), "tamper", 600, 86400, [600, 1200, 1800]),
    ],
)
def test_custom_sla(make_rig, sla, category: str, ack_s: float, close_s: float, steps: list[float]) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(sla=sla)
    placement = rig.engine.directory.grid_placement("G-002")
    change = rig.engine.raise_condition(Trigger(category, "camera", "CAM-1", placement, T0, "seen"))
    assert change is not None
    inc = change.incident
    assert (inc.ack_deadline, inc.close_deadline) == (T0 + ack_s, T0 + close_s)
    for level, at in enumerate(steps, start=1):
        assert rig.engine.tick(T0 + at - 0.01) == []
        [c] = rig.engine.tick(T0 + at)
        assert c.incident.escalation_level == level
    assert rig.engine.tick(T0 + steps[-1] * 10) == []


def test_overdue_flags_in_public_view(rig) -> None:  # type: ignore[no-untyped-def]
    [change] = rig.press(seq=1)
    inc = rig.engine.get(change.incident.id)
    assert (inc.public(T0 + 60)["ack_overdue"], inc.public(T0 + 60.1)["ack_overdue"]) == (False, True)
    assert (inc.public(T0 + 1800)["close_overdue"], inc.public(T0 + 1801)["close_overdue"]) == (False, True)
    rig.clock.now = T0 + 61
    acked = rig.engine.act(inc.id, "acknowledge", "op")
    assert acked.public(T0 + 100)["ack_overdue"] is False
    assert acked.public(T0 + 100)["allowed_actions"] == ["cancel", "dispatch", "merge"]
