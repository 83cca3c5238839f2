"""The incident engine with a settable clock, on SQLite and PostgreSQL: button signals, idempotency, linked
incidents, outbox routing, presence and dispatch failures."""

from __future__ import annotations

import json

import pytest

from alarms.config import WebhookConfig
from alarms.engine import Trigger
from alarms.presence import PresenceMonitor

T0 = 1_700_000_000.0  # the rig's clock starts here (conftest.T0)
PREFIX = "se-test"


def hook(name: str, **kw) -> WebhookConfig:  # type: ignore[no-untyped-def]
    return WebhookConfig(name=name, url=f"http://127.0.0.1:9/{name}", secret_env="X", **kw)


def _one(changes):  # type: ignore[no-untyped-def]
    assert changes is not None and len(changes) == 1
    return changes[0].incident


# ----- button signals -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("button", "grid", "community", "street"),
    [("B-001", "G-001", "C-1", "S-1"), ("B-002", "G-002", "C-1", "S-1"), ("B-003", "G-003", "C-2", "S-2")],
)
def test_press_opens_sos(rig, button: str, grid: str, community: str, street: str) -> None:  # type: ignore[no-untyped-def]
    inc = _one(rig.press(button, seq=5))
    assert (inc.category, inc.priority, inc.state, inc.version) == ("sos", 1, "reported", 1)
    assert (inc.grid_id, inc.community_id, inc.street_id) == (grid, community, street)
    assert (inc.source_kind, inc.source_id, inc.trigger_count) == ("button", button, 1)
    assert (inc.urgency, inc.severity, inc.status) == ("Immediate", "Extreme", "Actual")
    assert inc.created_at == T0 and inc.ack_deadline == T0 + 60 and inc.close_deadline == T0 + 1800
    assert inc.linked_incident_id is None and inc.open_key == f"sos:{button}"
    assert inc.evidence["last_seq"] == 5
    [entry] = rig.timeline(inc.id)
    assert (entry["action"], entry["actor"], entry["to_state"], entry["version"]) == (
        "created",
        button,
        "reported",
        1,
    )


def test_second_press_updates_trigger_count(rig) -> None:  # type: ignore[no-untyped-def]
    first = _one(rig.press(seq=1))
    rig.clock.advance(3)
    second = _one(rig.press(seq=2))
    rig.clock.advance(3)
    third = _one(rig.press(seq=3))
    assert first.id == second.id == third.id
    assert (third.trigger_count, third.version, third.last_trigger_at) == (3, 3, T0 + 6)
    assert third.evidence["last_seq"] == 3
    assert len(rig.incident_rows()) == 1
    assert [e["action"] for e in rig.timeline(first.id)] == ["created", "retrigger", "retrigger"]


@pytest.mark.parametrize("delay", [0.0, 0.5, 3600.0])
def test_repeated_seq_is_a_duplicate(rig, delay: float) -> None:  # type: ignore[no-untyped-def]
    inc = rig.engine.get(_one(rig.press(seq=7)).id)
    outbox_before = rig.outbox_rows()
    timeline_before = rig.timeline(inc.id)
    rig.clock.advance(delay)
    assert rig.press(seq=7) is None  # a QoS 1 redelivery or a repeated seq
    assert rig.engine.get(inc.id) == inc
    assert rig.timeline(inc.id) == timeline_before
    # only the receipt again: the pole re-sends until it hears it (docs/mqtt/BUTTONS.md)
    outbox_after = rig.outbox_rows()
    assert outbox_after[: len(outbox_before)] == outbox_before
    [receipt] = outbox_after[len(outbox_before) :]
    assert (receipt["channel"], receipt["target"]) == ("mqtt", f"{PREFIX}/buttons/B-001/ack")
    body = json.loads(receipt["payload"])
    assert (body["type"], body["seq"], body["incident_id"]) == ("received", 7, inc.id)
    assert rig.registry.get_sample_value("sharpeyes_duplicate_events_total") == 1.0


def test_same_seq_after_reboot_is_new(rig) -> None:  # type: ignore[no-untyped-def]
    inc = _one(rig.press(seq=1, boot=1))
    again = _one(rig.press(seq=1, boot=2))
    assert again.id == inc.id and again.trigger_count == 2


def test_same_seq_on_other_button_is_new(rig) -> None:  # type: ignore[no-untyped-def]
    a = _one(rig.press("B-001", seq=1))
    b = _one(rig.press("B-002", seq=1))
    assert a.id != b.id


def test_unknown_button_raises(rig) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KeyError):
        rig.press("B-999", seq=1)
    assert rig.incident_rows() == []


def test_button_cancel_only_adds_timeline(rig) -> None:  # type: ignore[no-untyped-def]
    inc = _one(rig.press(seq=1))
    rig.clock.advance(5)
    after = _one(rig.press(seq=2, kind="cancel"))
    assert after.id == inc.id
    assert (after.state, after.version, after.trigger_count, after.open_key) == (
        "reported",
        2,
        1,
        "sos:B-001",
    )
    last = rig.timeline(inc.id)[-1]
    assert (last["action"], last["actor"], last["from_state"], last["to_state"]) == (
        "button_cancel",
        "button B-001",
        "reported",
        "reported",
    )
    assert "seq=2" in last["note"]


def test_cancel_without_open_incident_does_nothing(rig) -> None:  # type: ignore[no-untyped-def]
    assert rig.press(seq=1, kind="cancel") == []
    assert rig.incident_rows() == []


def test_heartbeat_opens_nothing(rig) -> None:  # type: ignore[no-untyped-def]
    assert rig.press(seq=1, kind="heartbeat", battery=80) == []
    assert rig.incident_rows() == []


@pytest.mark.parametrize(("close_path"), [["acknowledge", "dispatch", "resolve", "close"], ["cancel"]])
def test_press_after_close_opens_linked_incident(rig, close_path: list[str]) -> None:  # type: ignore[no-untyped-def]
    old = _one(rig.press(seq=1))
    for action in close_path:
        rig.engine.act(old.id, action, "op", "n", assignee="unit-1")
    assert rig.engine.get(old.id).open_key is None
    rig.clock.advance(100)
    new = _one(rig.press(seq=2))
    assert new.id != old.id
    assert (new.linked_incident_id, new.state, new.trigger_count, new.version) == (old.id, "reported", 1, 1)
    last_old = rig.timeline(old.id)[-1]
    assert last_old["action"] == "retriggered" and str(new.id) in last_old["note"]
    rig.clock.advance(1)
    assert _one(rig.press(seq=3)).id == new.id


@pytest.mark.parametrize(
    ("kind", "category", "priority"), [("tamper", "tamper", 2), ("low_battery", "low_battery", 4)]
)
def test_device_kinds_open_their_category(rig, kind: str, category: str, priority: int) -> None:  # type: ignore[no-untyped-def]
    inc = _one(rig.press("B-003", seq=1, kind=kind))
    assert (inc.category, inc.priority, inc.grid_id, inc.street_id) == (category, priority, "G-003", "S-2")
    assert inc.open_key == f"{category}:B-003"
    again = _one(rig.press("B-003", seq=2, kind=kind))
    assert again.id == inc.id and again.trigger_count == 2


def test_exercise_status_from_payload(rig) -> None:  # type: ignore[no-untyped-def]
    assert _one(rig.press(seq=1, status="Exercise")).status == "Exercise"


# ----- outbox routing -----------------------------------------------------------------------------------
HOOKS = [
    hook("police"),
    hook("firedept", categories=["fire"]),
    hook("archive", events=["incident.closed"]),
    hook("opsroom", categories=["sos", "tamper"], events=["incident.created", "incident.escalated"]),
]


def _targets(rows) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    rows = [
        r if isinstance(r, dict) else {f: getattr(r, f) for f in ("channel", "target", "event_type")}
        for r in rows
    ]
    return sorted((r["channel"], r["target"], r["event_type"]) for r in rows)


@pytest.mark.parametrize(
    ("action", "kw", "event", "hooks", "ack"),
    [
        ("acknowledge", {}, "incident.updated", ["police"], True),
        ("dispatch", {"note": "go", "assignee": "unit-1"}, "incident.updated", ["police"], True),
        ("cancel", {"note": "drill"}, "incident.closed", ["archive", "police"], False),
    ],
)
def test_outbox_rows_per_action(
    rig_hooks, action: str, kw: dict, event: str, hooks: list[str], ack: bool
) -> None:  # type: ignore[no-untyped-def,type-arg]
    rig = rig_hooks
    inc = _one(rig.press(seq=1))
    created = rig.outbox_rows(inc.id)
    assert _targets(created) == [
        ("mqtt", f"{PREFIX}/buttons/B-001/ack", "incident.created"),  # `received`: the press is stored
        ("mqtt", f"{PREFIX}/incidents/G-001", "incident.created"),
        ("webhook", "opsroom", "incident.created"),
        ("webhook", "police", "incident.created"),
    ]
    if action == "dispatch":
        rig.engine.act(inc.id, "acknowledge", "op")
    n = len(rig.outbox_rows(inc.id))
    rig.clock.advance(2)
    rig.engine.act(inc.id, action, "op", **kw)
    rows = rig.outbox_rows(inc.id)[n:]
    expected = [("mqtt", f"{PREFIX}/incidents/G-001", event)] + [("webhook", h, event) for h in hooks]
    if ack:
        expected.append(("mqtt", f"{PREFIX}/buttons/B-001/ack", event))
    assert _targets(rows) == sorted(expected)
    assert len({r["msg_id"] for r in rig.outbox_rows()}) == len(rig.outbox_rows())
    for row in rows:
        body = json.loads(row["payload"])
        if row["target"].endswith("/ack"):
            assert body["incident_id"] == inc.id and body["state"] == rig.engine.get(inc.id).state
            assert body["message_zh"] and body["message_en"]
        else:
            assert body["type"] == event
            assert body["data"]["id"] == inc.id
            assert body["data"]["version"] == rig.engine.get(inc.id).version
            assert body["data"]["change"]["action"] == action
            assert "open_key" not in body["data"]
        assert row["status"] == "pending" and row["attempts"] == 0
        assert row["next_attempt_at"] == rig.clock.now and row["life_safety"] is True


def test_no_ack_row_for_start_or_camera_incident(rig_hooks) -> None:  # type: ignore[no-untyped-def]
    rig = rig_hooks
    inc = _one(rig.press(seq=1))
    rig.engine.act(inc.id, "acknowledge", "op")
    rig.engine.act(inc.id, "dispatch", "op", "go", assignee="u")
    n = len(rig.outbox_rows(inc.id))
    rig.engine.act(inc.id, "start", "op")
    assert not [r for r in rig.outbox_rows(inc.id)[n:] if r["target"].endswith("/ack")]
    placement = rig.engine.directory.grid_placement("G-003")
    fire = rig.engine.raise_condition(Trigger("fire", "camera", "CAM-9", placement, rig.clock.now, "flames"))
    assert fire is not None
    assert _targets(fire.outbox) == [
        ("mqtt", f"{PREFIX}/incidents/G-003", "incident.created"),
        ("webhook", "firedept", "incident.created"),
        ("webhook", "police", "incident.created"),
    ]
    rig.engine.act(fire.incident.id, "acknowledge", "op")
    assert not [r for r in rig.outbox_rows(fire.incident.id) if "/buttons/" in r["target"]]


def test_change_outbox_matches_table(rig_hooks) -> None:  # type: ignore[no-untyped-def]
    rig = rig_hooks
    [change] = rig.press(seq=1)
    stored = rig.outbox_rows(change.incident.id)
    assert sorted(i.msg_id for i in change.outbox) == sorted(r["msg_id"] for r in stored)
    assert sorted(i.id for i in change.outbox) == sorted(r["id"] for r in stored)
    assert rig.engine.get(change.incident.id).dispatch_status == "pending"


def test_change_is_what_was_stored(rig) -> None:  # type: ignore[no-untyped-def]
    [change] = rig.press(seq=1)
    assert change.incident == rig.engine.get(change.incident.id)


def test_no_webhooks_configured(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(webhooks=[])
    [change] = rig.press(seq=1)
    assert _targets(change.outbox) == [
        ("mqtt", f"{PREFIX}/buttons/B-001/ack", "incident.created"),
        ("mqtt", f"{PREFIX}/incidents/G-001", "incident.created"),
    ]
    assert rig.engine.get(change.incident.id).dispatch_status == "none"


def test_listeners_get_committed_changes(rig) -> None:  # type: ignore[no-untyped-def]
    seen = []
    rig.engine.subscribe(lambda c: seen.append((c.action, c.incident.version)))
    rig.engine.subscribe(lambda c: 1 / 0)  # a failing listener must not break the others or the engine
    rig.press(seq=1)
    rig.press(seq=2)
    assert seen == [("created", 1), ("retrigger", 2)]


@pytest.fixture
def rig_hooks(make_rig):  # type: ignore[no-untyped-def]
    return make_rig(webhooks=HOOKS)


# ----- presence -----------------------------------------------------------------------------------------
def test_offline_status_opens_and_online_closes(rig) -> None:  # type: ignore[no-untyped-def]
    mon = PresenceMonitor(rig.engine, {"B-001": 600}, started_at=T0)
    inc = _one(mon.on_status("B-001", False, rig.clock.advance(1)))
    assert (inc.category, inc.priority, inc.state, inc.source_kind) == (
        "device_offline",
        4,
        "reported",
        "device",
    )
    assert mon.on_status("B-001", False, rig.clock.advance(1))[0].incident.id == inc.id
    closed = _one(mon.on_status("B-001", True, rig.clock.advance(1)))
    assert closed.id == inc.id
    assert (closed.state, closed.open_key, closed.closed_at) == ("closed", None, rig.clock.now)
    assert rig.timeline(inc.id)[-1]["action"] == "auto_close"
    assert mon.on_status("B-001", True, rig.clock.advance(1)) == []
    again = _one(mon.on_status("B-001", False, rig.clock.advance(1)))
    assert again.id != inc.id and again.linked_incident_id == inc.id


def test_status_of_unregistered_device_is_ignored(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(register=False)
    mon = PresenceMonitor(rig.engine, {"B-001": 600}, started_at=T0)
    assert mon.on_status("B-001", False, T0) == []
    assert rig.incident_rows() == []


def test_silence_opens_and_message_closes(rig) -> None:  # type: ignore[no-untyped-def]
    mon = PresenceMonitor(rig.engine, {"B-001": 100, "B-002": 1000}, started_at=T0)
    assert mon.check(T0 + 100) == []  # silent exactly the timeout: not yet
    [change] = mon.check(T0 + 100.5)  # B-001 only; B-002 has a longer timeout; B-003 none at all
    inc = change.incident
    assert (inc.category, inc.source_id, inc.priority) == ("device_offline", "B-001", 4)
    assert "100" in rig.timeline(inc.id)[0]["note"]
    assert mon.check(T0 + 200) == []  # already silent: no second incident, no retrigger
    assert rig.engine.get(inc.id).version == 1
    rig.clock.now = T0 + 250
    changes = rig.press("B-001", seq=1, kind="heartbeat")
    assert [c.action for c in changes] == ["auto_close"]
    assert rig.engine.get(inc.id).state == "closed"
    # heard from: silence counts again from the last message
    assert mon.check(T0 + 340) == []
    assert [c.incident.source_id for c in mon.check(T0 + 351)] == ["B-001"]


def test_silence_counts_from_start_up(rig) -> None:  # type: ignore[no-untyped-def]
    """A device last heard long before a restart gets a full timeout after it."""
    rig.clock.now = T0 - 1000
    rig.press("B-001", seq=1, kind="heartbeat")
    mon = PresenceMonitor(rig.engine, {"B-001": 100}, started_at=T0)
    assert mon.check(T0 + 50) == []
    assert [c.incident.source_id for c in mon.check(T0 + 101)] == ["B-001"]


def test_press_from_silent_device_closes_offline(rig) -> None:  # type: ignore[no-untyped-def]
    mon = PresenceMonitor(rig.engine, {"B-002": 10}, started_at=T0)
    [offline] = mon.check(T0 + 11)
    rig.clock.now = T0 + 12
    changes = rig.press("B-002", seq=1)
    assert sorted((c.incident.category, c.action) for c in changes) == [
        ("device_offline", "auto_close"),
        ("sos", "created"),
    ]
    assert rig.engine.get(offline.incident.id).state == "closed"


# ----- dispatch failures --------------------------------------------------------------------------------
def test_dispatch_failed(rig) -> None:  # type: ignore[no-untyped-def]
    inc = _one(rig.press("B-003", seq=1))
    rig.clock.advance(30)
    changes = rig.engine.dispatch_failed(inc.id, "police", "HTTP 500")
    assert [c.action for c in changes] == ["dispatch_not_reached", "created"]
    assert rig.engine.get(inc.id).dispatch_status == "not_reached"
    last = rig.timeline(inc.id)[-1]
    assert (last["action"], last["actor"]) == ("dispatch_not_reached", "system")
    assert "police" in last["note"] and "HTTP 500" in last["note"]
    failure = changes[1].incident
    assert (failure.category, failure.priority, failure.source_kind, failure.source_id) == (
        "dispatch_failure",
        1,
        "system",
        "police",
    )
    assert (failure.grid_id, failure.street_id) == ("G-003", "S-2")
    assert failure.evidence["incident_id"] == inc.id
    # dispatch_failure goes to operators, never to a webhook (it is the webhook that failed)
    assert {r["channel"] for r in rig.outbox_rows(failure.id)} == {"mqtt"}
    assert failure.dispatch_status == "none"
    # a second dead letter for the same endpoint updates the open dispatch_failure incident
    other = _one(rig.press("B-001", seq=1))
    more = rig.engine.dispatch_failed(other.id, "police", "timeout")
    assert more[1].incident.id == failure.id and more[1].incident.trigger_count == 2
    assert {r["channel"] for r in rig.outbox_rows(failure.id)} == {"mqtt"}
    # another endpoint gets its own
    third = rig.engine.dispatch_failed(other.id, "firedept", "timeout")
    assert third[1].incident.id != failure.id
    assert len([r for r in rig.incident_rows() if r["category"] == "dispatch_failure"]) == 2


def test_dispatch_failed_without_incident(rig) -> None:  # type: ignore[no-untyped-def]
    assert rig.engine.dispatch_failed(None, "police", "HTTP 500") == []
    assert rig.incident_rows() == []


def test_dispatch_failed_is_delivery_state_not_a_new_version(rig) -> None:  # type: ignore[no-untyped-def]
    """Delivery state is not an incident change: no version bump (which would send yet another webhook
    to the endpoint that just failed), but a timeline entry and the dispatch_failure alarm."""
    inc = _one(rig.press(seq=1))
    rig.engine.dispatch_failed(inc.id, "police", "HTTP 500")
    after = rig.engine.get(inc.id)
    assert (after.version, after.dispatch_status) == (inc.version, "not_reached")
    assert [e["action"] for e in rig.timeline(inc.id)][-1] == "dispatch_not_reached"


def test_prune_seen_forgets_old_events(rig) -> None:  # type: ignore[no-untyped-def]
    rig.press(seq=1)
    rig.clock.advance(10)
    rig.press(seq=2)
    assert rig.engine.prune_seen(T0 + rig.engine.dedup_window_s + 5) == 1
    rig.clock.now = T0 + 20
    assert rig.press(seq=2) is None  # still remembered


# ----- group commit and the active-incident cache -------------------------------------------------------
def test_batch_of_retriggers_after_delivery(rig) -> None:  # type: ignore[no-untyped-def]
    """A group commit with several retriggers of delivered incidents, and a duplicate inside the batch:
    one outcome each, every incident back to "pending" dispatch, one timeline entry per stored press."""
    from tests.alarms.conftest import signal

    first = {b: _one(rig.press(b, seq=1)) for b in ("B-001", "B-002", "B-003")}
    with rig.store.write() as conn:
        rig.engine.mark_delivered(conn, {i.id for i in first.values()})
    assert {rig.engine.get(i.id).dispatch_status for i in first.values()} == {"delivered"}
    rig.clock.advance(2)
    now = rig.clock.now
    batch = [
        signal("B-001", 2, "press", now),
        signal("B-002", 2, "press", now),
        signal("B-001", 3, "press", now),
        signal("B-001", 2, "press", now),  # the same event again: a duplicate
        signal("B-003", 2, "heartbeat", now),
    ]
    assert rig.engine.ingest_signals(batch) == ["stored", "stored", "stored", "duplicate", "stored"]
    b1 = rig.engine.get(first["B-001"].id)
    assert (b1.trigger_count, b1.version, b1.evidence["last_seq"], b1.dispatch_status) == (3, 3, 3, "pending")
    assert rig.engine.get(first["B-002"].id).dispatch_status == "pending"
    assert rig.engine.get(first["B-003"].id).dispatch_status == "delivered"  # a heartbeat sends nothing
    assert [e["version"] for e in rig.timeline(b1.id)] == [1, 2, 3]
    assert len([r for r in rig.outbox_rows(b1.id) if r["channel"] == "webhook"]) == 3


def test_device_rows_follow_a_batch(rig) -> None:  # type: ignore[no-untyped-def]
    from alarms.devices import list_devices
    from tests.alarms.conftest import signal

    now = rig.clock.now
    rig.engine.ingest_signals(
        [
            signal("B-002", 1, "heartbeat", now),
            signal("B-002", 2, "low_battery", now),
            signal("B-002", 3, "heartbeat", now),
        ]
    )
    with rig.store.read() as conn:
        dev = {d["id"]: d for d in list_devices(conn)}["B-002"]
    assert (dev["messages"], dev["last_seq"], dev["battery_low"], dev["presence"]) == (3, 3, True, "online")


def test_unregistered_device_row_is_created(make_rig) -> None:  # type: ignore[no-untyped-def]
    from alarms.devices import list_devices
    from tests.alarms.conftest import signal

    rig = make_rig(register=False)
    now = rig.clock.now
    rig.engine.ingest_signals([signal("B-001", 1, "heartbeat", now), signal("B-001", 2, "tamper", now)])
    with rig.store.read() as conn:
        dev = {d["id"]: d for d in list_devices(conn)}["B-001"]
    assert (dev["messages"], dev["last_kind"], dev["tamper"], dev["known"]) == (2, "tamper", True, True)


def test_incident_changed_by_another_engine_is_reloaded(rig, make_rig) -> None:  # type: ignore[no-untyped-def]
    """Two engines on one database (scale-out): the version guard catches a stale cached copy, and the
    press is applied on top of the other engine's change instead of overwriting it."""
    inc = _one(rig.press(seq=1))
    other = make_rig(register=False).engine
    other.act(inc.id, "acknowledge", "op", "on it")
    rig.clock.advance(1)
    after = _one(rig.press(seq=2))
    assert (after.state, after.version, after.trigger_count) == ("acknowledged", 3, 2)
    assert [e["action"] for e in rig.timeline(inc.id)] == ["created", "acknowledge", "retrigger"]


def test_failed_transaction_leaves_no_cached_change(rig) -> None:  # type: ignore[no-untyped-def]
    """A batch that fails after changing the cache must not leave the uncommitted change behind."""
    from tests.alarms.conftest import signal

    inc = _one(rig.press(seq=1))
    now = rig.clock.now
    with pytest.raises(KeyError):
        rig.engine.ingest_signal(signal("B-404", 1, "press", now))
    bad = [signal("B-001", 2, "press", now), signal("B-404", 1, "press", now)]
    assert rig.engine.ingest_signals(bad) == ["stored", "error"]
    stored = rig.engine.get(inc.id)
    assert (stored.version, stored.trigger_count) == (2, 2)
    assert _one(rig.press(seq=3)).version == 3


# ----- clears applied out of order (several engine processes) ----------------------------------------------
def _video_loss(rig, cam: str, at: float, episode: int):  # type: ignore[no-untyped-def]
    placement = rig.engine.directory.grid_placement("G-001")
    trigger = Trigger(
        "video_loss", "camera", cam, placement, at, "no video", event_id=f"cam:{cam}:video_loss:{episode}"
    )
    return rig.engine.raise_condition(trigger)


def test_stale_clear_does_not_close_a_newer_video_loss(rig) -> None:  # type: ignore[no-untyped-def]
    """Lost at 20 (a new episode), then the clear of an earlier episode made at 10 arrives: ignored."""
    newer = _video_loss(rig, "CAM-9", T0 + 20, episode=20).incident
    assert rig.engine.clear_condition("video_loss", "CAM-9", "video back", now=T0 + 10) == []
    assert rig.engine.get(newer.id).state == "reported"
    assert rig.registry.get_sample_value("sharpeyes_stale_clears_total", {"category": "video_loss"}) == 1.0
    closed = _one(rig.engine.clear_condition("video_loss", "CAM-9", "video back", now=T0 + 25))
    assert (closed.id, closed.state, closed.closed_at) == (newer.id, "closed", T0 + 25)


def test_stale_clear_after_a_retrigger_of_the_open_incident(rig) -> None:  # type: ignore[no-untyped-def]
    """Lost at 5, back at 10, lost again at 20; the raise at 20 lands (retrigger) before the clear at 10."""
    inc = _video_loss(rig, "CAM-9", T0 + 5, episode=5).incident
    assert _video_loss(rig, "CAM-9", T0 + 20, episode=20).action == "retrigger"
    assert rig.engine.clear_condition("video_loss", "CAM-9", "video back", now=T0 + 10) == []
    assert rig.engine.get(inc.id).state == "reported"


@pytest.mark.parametrize("delay", [0.0, 3.0])
def test_in_order_clear_still_closes(rig, delay: float) -> None:  # type: ignore[no-untyped-def]
    inc = _video_loss(rig, "CAM-9", T0 + 5, episode=5).incident
    closed = _one(rig.engine.clear_condition("video_loss", "CAM-9", "video back", now=T0 + 5 + delay))
    assert (closed.id, closed.state) == (inc.id, "closed")
    assert rig.registry.get_sample_value("sharpeyes_stale_clears_total", {"category": "video_loss"}) is None
