"""Camera incidents in two levels: a suspicion reaches operators (MQTT, page) at once, police dispatch only
once a rule confirms it; confirmation raises the certainty; a `cleared` observation goes on the timeline."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from alarms.config import WebhookConfig
from alarms.engine import Trigger


def _rig(make_rig, se):  # type: ignore[no-untyped-def]
    police = se.hook("police")  # default min_level: confirmed
    opsroom = se.hook("opsroom", min_level="suspected")
    return make_rig(webhooks=[police, opsroom])


def _trigger(rig, kind: str, level: str, n: int, **evidence: Any) -> Trigger:  # type: ignore[no-untyped-def]
    return Trigger(
        kind,
        "camera",
        "CAM-7",
        rig.engine.directory.grid_placement("G-001"),
        rig.clock.now,
        f"{kind} {level}",
        evidence={"level": level, **evidence},
        certainty="Observed" if level == "confirmed" else "Likely",
        event_id=f"cam:CAM-7:{kind}:{level}:{n}",
    )


def _sent(change) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(channel, target, type in the body) of a change's outbox rows."""
    return sorted(
        (i.channel, i.target.rsplit("/", 1)[-1], json.loads(i.payload)["type"]) for i in change.outbox
    )


def test_suspected_fire_reaches_police_as_created_when_confirmed(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    rig = _rig(make_rig, se)
    opened = rig.engine.observe_condition(_trigger(rig, "fire", "suspected", 1))
    assert opened is not None and opened.action == "created"
    assert opened.incident.certainty == "Likely"
    assert _sent(opened) == [
        ("mqtt", "G-001", "incident.created"),
        ("webhook", "opsroom", "incident.created"),
    ]

    rig.clock.advance(0.6)
    confirmed = rig.engine.observe_condition(_trigger(rig, "fire", "confirmed", 2, snapshot="c.jpg"))
    assert confirmed is not None and confirmed.action == "confirmed"
    inc = rig.engine.get(opened.incident.id)
    assert (inc.certainty, inc.trigger_count, inc.dispatch_status) == ("Observed", 2, "pending")
    assert inc.evidence["level"] == "confirmed" and inc.evidence["snapshot"] == "c.jpg"
    assert _sent(confirmed) == [
        ("mqtt", "G-001", "incident.updated"),
        ("webhook", "opsroom", "incident.updated"),
        ("webhook", "police", "incident.created"),
    ]
    [police] = [i for i in confirmed.outbox if i.target == "police"]
    body = json.loads(police.payload)
    assert body["data"]["certainty"] == "Observed" and body["data"]["change"]["action"] == "confirmed"
    assert [t["action"] for t in rig.timeline(inc.id)] == ["created", "confirmed"]

    rig.clock.advance(5)
    again = rig.engine.observe_condition(_trigger(rig, "fire", "confirmed", 3))
    assert again is not None and again.action == "retrigger"
    assert ("webhook", "police", "incident.updated") in _sent(again)
    later_suspicion = rig.engine.observe_condition(_trigger(rig, "fire", "suspected", 4))
    assert later_suspicion is not None and later_suspicion.incident.certainty == "Observed", "never lowered"


def test_unconfirmed_fire_never_reaches_police(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(webhooks=[se.hook("police")])
    opened = rig.engine.observe_condition(_trigger(rig, "smoke", "suspected", 1))
    assert opened is not None
    rig.engine.act(opened.incident.id, "acknowledge", "op")
    rig.engine.act(opened.incident.id, "cancel", "op", "steam from a kitchen")
    targets = {r["target"] for r in rig.outbox_rows(opened.incident.id) if r["channel"] == "webhook"}
    assert targets == set(), "nor is its dispatch shown as pending"
    assert rig.engine.get(opened.incident.id).dispatch_status == "none"


def test_confirmed_at_first_sight_goes_to_police_at_once(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    rig = _rig(make_rig, se)
    opened = rig.engine.observe_condition(_trigger(rig, "fire", "confirmed", 1))
    assert opened is not None and opened.incident.certainty == "Observed"
    assert ("webhook", "police", "incident.created") in _sent(opened)


def test_sos_is_not_graded(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    rig = _rig(make_rig, se)
    [change] = rig.press(seq=1)
    assert ("webhook", "police", "incident.created") in _sent(change)
    assert change.incident.dispatch_status == "pending"


def test_cleared_goes_on_the_timeline_of_the_open_incident(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    rig = _rig(make_rig, se)
    cleared = _trigger(rig, "smoke", "cleared", 9)
    assert rig.engine.observe_condition(cleared, cleared=True) is None, "nothing open: nothing to clear"
    assert rig.incident_rows() == []

    opened = rig.engine.observe_condition(_trigger(rig, "smoke", "confirmed", 1))
    assert opened is not None
    rig.clock.advance(30)
    cleared = Trigger(
        "smoke",
        "camera",
        "CAM-7",
        rig.engine.directory.grid_placement("G-001"),
        rig.clock.now,
        "smoke cleared, rule smoke",
        evidence={"cleared_at": rig.clock.now},
        event_id="cam:CAM-7:smoke:cleared:2",
    )
    change = rig.engine.observe_condition(cleared, cleared=True)
    assert change is not None and change.action == "cleared"
    inc = rig.engine.get(opened.incident.id)
    assert (inc.state, inc.trigger_count, inc.version) == ("reported", 1, 2), "not closed, not a retrigger"
    assert inc.evidence["cleared_at"] == rig.clock.now and inc.evidence["level"] == "confirmed"
    last = rig.timeline(inc.id)[-1]
    assert (last["action"], last["note"], last["to_state"]) == (
        "cleared",
        "smoke cleared, rule smoke",
        "reported",
    )
    assert ("webhook", "police", "incident.updated") in _sent(change)
    assert rig.engine.observe_condition(cleared, cleared=True) is None, "a repeated event id is dropped"
    assert len(rig.timeline(inc.id)) == 2


def test_min_level_config() -> None:
    hook = WebhookConfig(name="p", url="https://x.example/h", secret_env="S")
    assert hook.min_level == "confirmed"
    with pytest.raises(ValidationError):
        WebhookConfig(name="p", url="https://x.example/h", secret_env="S", min_level="rumour")  # type: ignore[arg-type]


def test_an_operator_dispatching_a_suspected_fire_confirms_it_for_police(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    """Police wait for confirmed fires; an operator who verified a suspicion on the video and sends people
    confirms it: police get it then, as created, and its later changes as updates."""
    rig = _rig(make_rig, se)
    opened = rig.engine.observe_condition(_trigger(rig, "fire", "suspected", 1))
    assert opened is not None
    iid = opened.incident.id
    rig.engine.act(iid, "acknowledge", "op")
    assert "police" not in {r["target"] for r in rig.outbox_rows(iid)}
    inc = rig.engine.act(iid, "dispatch", "op", "seen on CAM-7", assignee="fire brigade 3")
    assert (inc.certainty, inc.dispatch_status) == ("Observed", "pending")
    police = [r for r in rig.outbox_rows(iid) if r["target"] == "police"]
    assert [json.loads(r["payload"])["type"] for r in police] == ["incident.created"]
    body = json.loads(police[0]["payload"])
    assert body["data"]["change"]["action"] == "dispatch" and body["data"]["assignee"] == "fire brigade 3"
    rig.engine.act(iid, "resolve", "op", "extinguished")
    police = [r for r in rig.outbox_rows(iid) if r["target"] == "police"]
    assert [json.loads(r["payload"])["type"] for r in police] == ["incident.created", "incident.updated"]


def test_dispatching_a_confirmed_fire_is_an_update_for_police(make_rig, se) -> None:  # type: ignore[no-untyped-def]
    rig = _rig(make_rig, se)
    opened = rig.engine.observe_condition(_trigger(rig, "fire", "confirmed", 1))
    assert opened is not None
    rig.engine.act(opened.incident.id, "acknowledge", "op")
    rig.engine.act(opened.incident.id, "dispatch", "op", "sent", assignee="unit-1")
    police = [r for r in rig.outbox_rows(opened.incident.id) if r["target"] == "police"]
    types = [json.loads(r["payload"])["type"] for r in police]
    assert types[0] == "incident.created" and types.count("incident.created") == 1
    assert types[-1] == "incident.updated"
