"""Merges that cannot go wrong: only into an active incident of the same street in scope, never into
itself or a finished one; both timelines say so; webhooks and MQTT carry ``incident.merged``; the pole of a
merged SOS still hears its target's acknowledgement."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alarms.merges import MergeRefused, merge_candidates

ALL = lambda street, grid: True  # noqa: E731


def sos(rig: Any, button: str, seq: int = 1) -> int:
    [change] = rig.press(button, seq=seq)
    return change.incident.id


def merge(rig: Any, source: int, target: int | None, allows: Any = ALL) -> Any:
    return rig.engine.act(source, "merge", "wang", None, merged_into=target, allows=allows)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("self", "merge_self"),
        ("none", "merge_needs_target"),
        ("finished", "merge_target_finished"),
        ("out_of_scope", "merge_target_missing"),
        ("unknown", "merge_target_missing"),
        ("other_street", "merge_other_street"),
    ],
)
def test_merge_refusals(rig: Any, case: str, code: str) -> None:
    source = sos(rig, "B-001")
    same_street = sos(rig, "B-002")
    other_street = sos(rig, "B-003")
    if case == "finished":
        rig.engine.act(same_street, "cancel", "wang", "test press", disposition="test")
    target, allows = {
        "self": (source, ALL),
        "none": (None, ALL),
        "finished": (same_street, ALL),
        "out_of_scope": (same_street, lambda street, grid: grid == "G-001"),
        "unknown": (99999, ALL),
        "other_street": (other_street, ALL),
    }[case]
    with pytest.raises(MergeRefused) as exc:
        merge(rig, source, target, allows)
    assert exc.value.code == code
    assert rig.engine.get(source).state == "reported"  # nothing changed


def test_merge_is_on_both_timelines_and_sent_as_incident_merged(rig: Any) -> None:
    source, target = sos(rig, "B-001"), sos(rig, "B-002")
    merged = merge(rig, source, target)
    assert (merged.state, merged.merged_into) == ("merged", target)
    assert rig.timeline(source)[-1]["action"] == "merge"
    received = rig.timeline(target)[-1]
    assert received["action"] == "merged_in" and received["data"]["incident_id"] == source
    hooks = [r for r in rig.outbox_rows(source) if r["channel"] == "webhook"]
    assert hooks[-1]["event_type"] == "incident.merged"
    body = json.loads(hooks[-1]["payload"])
    assert body["type"] == "incident.merged" and body["data"]["merged_into"] == target
    topic = [r for r in rig.outbox_rows(source) if r["target"].startswith("se-test/incidents/")]
    assert json.loads(topic[-1]["payload"])["type"] == "incident.merged"
    target_hooks = [json.loads(r["payload"]) for r in rig.outbox_rows(target) if r["channel"] == "webhook"]
    assert target_hooks[-1]["data"]["change"]["action"] == "merged_in"


def test_endpoint_that_lists_older_events_hears_a_merge_as_an_update(make_rig: Any, se: Any) -> None:
    events = ["incident.created", "incident.updated", "incident.closed"]
    rig = make_rig(webhooks=[se.hook(events=events)])
    source, target = sos(rig, "B-001"), sos(rig, "B-002")
    merge(rig, source, target)
    hooks = [r for r in rig.outbox_rows(source) if r["channel"] == "webhook"]
    assert hooks[-1]["event_type"] == "incident.updated"
    assert json.loads(hooks[-1]["payload"])["data"]["state"] == "merged"


def _acks(rig: Any, button: str) -> list[dict[str, Any]]:
    topic = f"se-test/buttons/{button}/ack"
    return [json.loads(r["payload"]) for r in rig.outbox_rows() if r["target"] == topic]


def test_merged_sos_pole_hears_the_targets_acknowledgement_and_dispatch(rig: Any) -> None:
    source, target = sos(rig, "B-001"), sos(rig, "B-002")
    merge(rig, source, target)
    rig.engine.act(target, "acknowledge", "wang")
    rig.engine.act(target, "dispatch", "wang", "unit 7", assignee="unit 7")
    acks = [a for a in _acks(rig, "B-001") if a["type"] != "received"]
    assert [(a["type"], a["incident_id"], a["merged_into"]) for a in acks] == [
        ("acknowledged", source, target),
        ("dispatched", source, target),
    ]


def test_merging_into_an_acknowledged_target_tells_the_pole_at_once(rig: Any) -> None:
    source, target = sos(rig, "B-001"), sos(rig, "B-002")
    rig.engine.act(target, "acknowledge", "wang")
    merge(rig, source, target)
    acks = [a for a in _acks(rig, "B-001") if a["type"] != "received"]
    assert [(a["type"], a["state"]) for a in acks] == [("acknowledged", "acknowledged")]


def test_candidates_same_street_in_scope_same_category_first(rig: Any, se: Any) -> None:
    source = sos(rig, "B-001")  # G-001, S-1
    rig.clock.advance(60)
    other_grid = sos(rig, "B-002")  # G-002, S-1: same street, same category
    rig.clock.advance(60)
    [tamper] = rig.engine.ingest_signal(se.signal("B-001", 50, "tamper", rig.clock.now))  # G-001, S-1
    other_street = sos(rig, "B-003")  # S-2: never a candidate
    with rig.store.read() as conn:
        found = merge_candidates(conn, rig.engine.get(source), ALL)
        scoped = merge_candidates(conn, rig.engine.get(source), lambda street, grid: grid == "G-001")
    ids = [c.incident.id for c in found]
    assert other_street not in ids and source not in ids
    assert ids == [other_grid, tamper.incident.id]  # same category first, though another grid
    assert found[0].same_category and not found[0].same_grid and found[1].same_grid
    assert [c.incident.id for c in scoped] == [tamper.incident.id]  # out of scope: not offered
