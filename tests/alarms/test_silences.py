"""A false alarm silences, it does not blind: cancel-as-false-alarm of a camera incident starts a silence
with an expiry; sightings meanwhile open nothing; when it expires (or is lifted) a sighting opens a new
incident linked to the cancelled one that says why. Buttons are never silenced."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from alarms.grids import Placement
from alarms.refusals import ActionRefused
from alarms.silence_config import SilenceConfig, SilenceDuration
from alarms.silences import SilenceEnded, SilenceNotFound, list_silences
from alarms.storage.schema import silences
from alarms.triggers import Trigger

PLACE = Placement("G-001", "C-1", "S-1", ("CAM-1",))
_seq = iter(range(1, 10_000))


def sighting(rig: Any, category: str = "fire", camera: str = "CAM-1") -> Any:
    """A camera rule's observation with a fresh episode (a fresh event id)."""
    trig = Trigger(
        category,
        "camera",
        camera,
        PLACE,
        rig.clock.now,
        f"{category} suspected",
        evidence={"rule": category},
        certainty="Likely",
        event_id=f"cam:{camera}:{category}:{next(_seq)}",
    )
    return rig.engine.observe_condition(trig)


def silence_rows(rig: Any) -> list[dict[str, Any]]:
    with rig.store.read() as conn:
        return [dict(r) for r in conn.execute(select(silences).order_by(silences.c.id)).mappings()]


def cancel(rig: Any, incident_id: int, **kw: Any) -> Any:
    kw.setdefault("disposition", "false_alarm")
    return rig.engine.act(incident_id, "cancel", "wang", "steam from the kitchen", **kw)


def test_false_alarm_silences_then_expiry_reraises_linked(rig: Any) -> None:
    first = sighting(rig).incident
    cancel(rig, first.id)
    [s] = silence_rows(rig)
    assert (s["camera_id"], s["category"], s["incident_id"], s["created_by"]) == (
        "CAM-1",
        "fire",
        first.id,
        "wang",
    )
    assert s["reason"] == "steam from the kitchen" and s["until"] == rig.clock.now + 600  # fire's default
    assert [e["action"] for e in rig.timeline(first.id)][-1] == "silenced"

    rig.clock.advance(300)
    assert sighting(rig) is None  # silenced: nothing opens
    assert silence_rows(rig)[0]["suppressed"] == 1
    assert rig.engine.tick() == []  # not yet expired

    rig.clock.advance(300)
    [expired] = [c for c in rig.engine.tick() if c.action == "silence_expired"]
    assert expired.incident.id == first.id and expired.outbox == []  # nothing to dispatch
    assert silence_rows(rig)[0]["end_reason"] == "expired"
    again = sighting(rig)
    assert again is not None and again.action == "created"
    assert again.incident.linked_incident_id == first.id
    reraised = [e for e in rig.timeline(again.incident.id) if e["action"] == "reraised"]
    assert reraised and reraised[0]["data"]["linked_incident_id"] == first.id


def test_operator_chooses_a_duration_within_the_cap_and_fire_never_longer(rig: Any) -> None:
    inc = sighting(rig).incident
    with pytest.raises(ActionRefused) as exc:
        cancel(rig, inc.id, silence_s=1801)  # fire's cap is 30 min
    assert exc.value.code == "silence_out_of_range"
    assert rig.engine.get(inc.id).state == "reported"  # refused as a whole: not cancelled either
    with pytest.raises(ActionRefused):
        cancel(rig, inc.id, silence_s=30)  # under min_s
    cancel(rig, inc.id, silence_s=120)
    assert silence_rows(rig)[0]["until"] == rig.clock.now + 120


def test_config_caps_life_safety_categories() -> None:
    with pytest.raises(ValidationError, match="life safety"):
        SilenceConfig(categories={"fire": SilenceDuration(default_s=600, max_s=7200)})
    with pytest.raises(ValidationError, match="longer than max_s"):
        SilenceDuration(default_s=900, max_s=600)
    cfg = SilenceConfig()
    assert cfg.duration("crowd", None) == 1800 and cfg.duration("video_loss", None) is None


def test_lift_early_reraises_and_is_scoped(rig: Any) -> None:
    inc = sighting(rig).incident
    cancel(rig, inc.id)
    [s] = silence_rows(rig)
    with pytest.raises(SilenceNotFound):
        rig.engine.lift_silence(s["id"], "li", lambda street, grid: street == "S-2")
    change = rig.engine.lift_silence(s["id"], "wang", lambda street, grid: True)
    assert change.action == "silence_lifted"
    with rig.store.read() as conn:
        assert list_silences(conn) == []  # none active
    with pytest.raises(SilenceEnded):
        rig.engine.lift_silence(s["id"], "wang", lambda street, grid: True)
    again = sighting(rig)
    assert again is not None and again.incident.linked_incident_id == inc.id


@pytest.mark.parametrize("disposition", ["duplicate", "test"])
def test_other_dispositions_do_not_silence(rig: Any, disposition: str) -> None:
    inc = sighting(rig).incident
    cancel(rig, inc.id, disposition=disposition)
    assert silence_rows(rig) == []
    assert sighting(rig) is not None


def test_button_press_after_a_cancel_always_raises(rig: Any) -> None:
    [first] = rig.press("B-001", seq=1)
    rig.engine.act(first.incident.id, "cancel", "wang", "child pressed it", disposition="false_alarm")
    assert silence_rows(rig) == []
    rig.clock.advance(1)
    [again] = rig.press("B-001", seq=2)
    assert again.action == "created" and again.incident.id != first.incident.id
    assert again.incident.linked_incident_id == first.incident.id
