"""The incident state machine: every (state, action) pair, as pure data and through the engine on SQLite and
PostgreSQL (version, timeline, timestamps, open_key, required notes and assignee)."""

from __future__ import annotations

import itertools

import pytest

from alarms.engine import BadRequest, IncidentNotFound, Trigger
from alarms.lifecycle import InvalidTransition, State, allowed_actions, next_state

ACTIVE = ("reported", "acknowledged", "dispatched", "in_progress")
# Written out by hand from DESIGN.md section 4, not derived from alarms.lifecycle.
EXPECTED: dict[str, dict[str, str]] = {
    "acknowledge": {"reported": "acknowledged"},
    "dispatch": {"acknowledged": "dispatched"},
    "reject": {"dispatched": "acknowledged"},
    "start": {"dispatched": "in_progress"},
    "resolve": {"dispatched": "resolved", "in_progress": "resolved"},
    "close": {"resolved": "closed"},
    "evaluate": {"closed": "evaluated"},
    "cancel": dict.fromkeys(ACTIVE, "cancelled"),
    "merge": dict.fromkeys(ACTIVE, "merged"),
}
STAMP = {
    "acknowledge": "acknowledged_at",
    "dispatch": "dispatched_at",
    "reject": None,
    "start": "started_at",
    "resolve": "resolved_at",
    "close": "closed_at",
    "evaluate": "evaluated_at",
    "cancel": "closed_at",
    "merge": "closed_at",
}
NOTE_REQUIRED = {"dispatch", "reject", "resolve", "cancel"}
STATES = [s.value for s in State]
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # the table runs on both
ACTIONS = list(EXPECTED)
# How to reach each state from `reported`.
PATHS: dict[str, list[str]] = {
    "reported": [],
    "acknowledged": ["acknowledge"],
    "dispatched": ["acknowledge", "dispatch"],
    "in_progress": ["acknowledge", "dispatch", "start"],
    "resolved": ["acknowledge", "dispatch", "resolve"],
    "closed": ["acknowledge", "dispatch", "resolve", "close"],
    "evaluated": ["acknowledge", "dispatch", "resolve", "close", "evaluate"],
    "cancelled": ["cancel"],
    "merged": ["merge"],
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(STATES, [*ACTIONS, "teleport"])))
def test_next_state_table(state: str, action: str) -> None:
    target = EXPECTED.get(action, {}).get(state)
    if target is None:
        with pytest.raises(InvalidTransition) as info:
            next_state(state, action)
        assert info.value.state == state and info.value.action == action
        assert info.value.allowed == sorted(a for a, m in EXPECTED.items() if state in m)
    else:
        t = next_state(state, action)
        assert t.target.value == target
        assert t.note_required == (action in NOTE_REQUIRED)
        assert t.timestamp_field == STAMP[action]


@pytest.mark.parametrize("state", STATES)
def test_allowed_actions(state: str) -> None:
    assert allowed_actions(state) == sorted(a for a, m in EXPECTED.items() if state in m)


# ----- through the engine -------------------------------------------------------------------------------
def _open(rig, source: str) -> int:  # type: ignore[no-untyped-def]
    placement = rig.engine.directory.grid_placement("G-001")
    change = rig.engine.raise_condition(Trigger("sos", "button", source, placement, rig.clock.now, "opened"))
    assert change is not None
    return change.incident.id


def _kwargs(action: str, merge_target: int) -> dict:  # type: ignore[type-arg]
    kw: dict = {"note": f"note for {action}"}  # type: ignore[type-arg]
    if action == "dispatch":
        kw["assignee"] = "unit-7"
    if action == "merge":
        kw["merged_into"] = merge_target
    if action == "evaluate":
        kw["evaluation"] = {"score": 5}
    return kw


def _drive(rig, incident_id: int, state: str, merge_target: int) -> None:  # type: ignore[no-untyped-def]
    for step in PATHS[state]:
        rig.clock.advance(1)
        rig.engine.act(incident_id, step, "op", **_kwargs(step, merge_target))
    assert rig.engine.get(incident_id).state == state


@pytest.mark.parametrize("state", STATES)
def test_engine_transition_table(rig, state: str) -> None:  # type: ignore[no-untyped-def]
    target_id = _open(rig, "MERGE-TARGET")
    for n, action in enumerate(ACTIONS):
        inc_id = _open(rig, f"SRC-{n}")
        _drive(rig, inc_id, state, target_id)
        before = rig.engine.get(inc_id)
        entries = rig.timeline(inc_id)
        now = rig.clock.advance(7)
        expected = EXPECTED[action].get(state)
        kw = _kwargs(action, target_id)
        if expected is None:
            with pytest.raises(InvalidTransition):
                rig.engine.act(inc_id, action, "op-9", **kw)
            after = rig.engine.get(inc_id)
            assert after == before, f"{action} from {state} changed the incident"
            assert rig.timeline(inc_id) == entries
            continue
        after = rig.engine.act(inc_id, action, "op-9", **kw)
        assert after == rig.engine.get(inc_id)
        assert after.state == expected
        assert after.version == before.version + 1
        assert after.updated_at == now
        if STAMP[action]:
            assert getattr(after, STAMP[action]) == now
        assert after.open_key == (before.open_key if expected in ACTIVE else None)
        new_entries = rig.timeline(inc_id)
        assert len(new_entries) == len(entries) + 1
        last = new_entries[-1]
        assert (last["action"], last["actor"], last["note"]) == (action, "op-9", kw["note"])
        assert (last["from_state"], last["to_state"], last["version"], last["ts"]) == (
            state,
            expected,
            after.version,
            now,
        )


def test_full_loop_versions_and_fields(rig) -> None:  # type: ignore[no-untyped-def]
    inc_id = _open(rig, "LOOP")
    steps = [
        ("acknowledge", {}),
        ("dispatch", {"note": "send unit", "assignee": "unit-3"}),
        ("reject", {"note": "no unit free"}),
        ("dispatch", {"note": "send other unit", "assignee": "unit-4"}),
        ("start", {}),
        ("resolve", {"note": "person helped home", "disposition": "handled"}),
        ("close", {}),
        ("evaluate", {"evaluation": {"quality": "good"}}),
    ]
    for action, kw in steps:
        rig.clock.advance(10)
        rig.engine.act(inc_id, action, "alice", **kw)
    inc = rig.engine.get(inc_id)
    assert inc.state == "evaluated" and inc.version == 1 + len(steps)
    assert inc.assignee == "unit-4"
    assert inc.resolution_note == "person helped home"
    assert inc.disposition == "handled"
    assert inc.evaluation == {"quality": "good"}
    assert inc.open_key is None
    entries = rig.timeline(inc_id)
    assert [e["action"] for e in entries] == ["created"] + [a for a, _ in steps]
    assert [e["version"] for e in entries] == list(range(1, len(steps) + 2))
    assert [e["actor"] for e in entries[1:]] == ["alice"] * len(steps)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("disposition", "expected"), [(None, "false_alarm"), ("test", "test"), ("duplicate", "duplicate")]
)
def test_cancel_disposition(rig, disposition: str | None, expected: str) -> None:  # type: ignore[no-untyped-def]
    inc_id = _open(rig, "CANCEL")
    inc = rig.engine.act(inc_id, "cancel", "op", "drill", disposition=disposition)
    assert (inc.state, inc.disposition, inc.open_key) == ("cancelled", expected, None)


@SQLITE_ONLY
@pytest.mark.parametrize("action", sorted(NOTE_REQUIRED))
@pytest.mark.parametrize("note", [None, "", "   "])
def test_note_required(rig, action: str, note: str | None) -> None:  # type: ignore[no-untyped-def]
    inc_id = _open(rig, "NOTE")
    state = {
        "dispatch": "acknowledged",
        "reject": "dispatched",
        "resolve": "dispatched",
        "cancel": "reported",
    }
    _drive(rig, inc_id, state[action], 0)
    before = rig.engine.get(inc_id)
    with pytest.raises(BadRequest, match="note"):
        rig.engine.act(inc_id, action, "op", note, assignee="unit-1")
    assert rig.engine.get(inc_id) == before


@SQLITE_ONLY
@pytest.mark.parametrize("assignee", [None, "", "  "])
def test_dispatch_needs_assignee(rig, assignee: str | None) -> None:  # type: ignore[no-untyped-def]
    inc_id = _open(rig, "ASSIGN")
    rig.engine.act(inc_id, "acknowledge", "op")
    before = rig.engine.get(inc_id)
    with pytest.raises(BadRequest, match="assignee"):
        rig.engine.act(inc_id, "dispatch", "op", "go", assignee=assignee)
    assert rig.engine.get(inc_id) == before


@SQLITE_ONLY
@pytest.mark.parametrize("action", ["acknowledge", "start", "close", "evaluate"])
def test_note_optional(rig, action: str) -> None:  # type: ignore[no-untyped-def]
    inc_id = _open(rig, "OPTIONAL")
    state = {"acknowledge": "reported", "start": "dispatched", "close": "resolved", "evaluate": "closed"}
    _drive(rig, inc_id, state[action], 0)
    assert rig.engine.act(inc_id, action, "op").state == EXPECTED[action][state[action]]
    assert rig.timeline(inc_id)[-1]["note"] is None


@SQLITE_ONLY
def test_merge_arguments(rig) -> None:  # type: ignore[no-untyped-def]
    a, b = _open(rig, "M-A"), _open(rig, "M-B")
    for merged_into in (None, a):
        with pytest.raises(BadRequest, match="merged_into"):
            rig.engine.act(a, "merge", "op", merged_into=merged_into)
    with pytest.raises(BadRequest, match="no incident 99999"):  # coded: tests/alarms/test_merges.py
        rig.engine.act(a, "merge", "op", merged_into=99999)
    inc = rig.engine.act(a, "merge", "op", merged_into=b)
    assert (inc.state, inc.merged_into, inc.version) == ("merged", b, 2)


@SQLITE_ONLY
def test_expected_version(rig) -> None:  # type: ignore[no-untyped-def]
    inc_id = _open(rig, "VER")
    with pytest.raises(InvalidTransition):
        rig.engine.act(inc_id, "acknowledge", "op", expected_version=2)
    assert rig.engine.get(inc_id).version == 1
    assert rig.engine.act(inc_id, "acknowledge", "op", expected_version=1).version == 2


@SQLITE_ONLY
def test_unknown_incident(rig) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IncidentNotFound):
        rig.engine.act(424242, "acknowledge", "op")
    with pytest.raises(IncidentNotFound):
        rig.engine.get(424242)
