"""The incident contract (alarms/contracts.py): the checked-in JSON Schemas are the models' schemas, the
closed value sets match the engine's, and real bodies (public(), webhook and MQTT payloads) validate against
both the model and the published schema file."""

from __future__ import annotations

import json
import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from alarms import contracts
from alarms.categories import CATEGORIES, CERTAINTIES, category
from alarms.contracts import IncidentBody, IncidentEvent, published_schemas
from alarms.incidents import Incident
from alarms.lifecycle import ESCALATION_LEVELS, TRANSITIONS, State
from alarms.timefmt import iso

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
T0 = 1_700_000_000.0


def _schema_file(name: str) -> dict[str, Any]:
    path = SCHEMAS / name
    assert path.is_file(), f"{path} missing: run scripts/export_schemas.py"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(published_schemas()))
def test_checked_in_schema_is_the_models(name: str) -> None:
    assert _schema_file(name) == published_schemas()[name], f"{name} is stale: run scripts/export_schemas.py"


def test_published_schemas_are_model_json_schema() -> None:
    files = published_schemas()
    for model, name in ((IncidentBody, "incident.v1.json"), (IncidentEvent, "incident-event.v1.json")):
        published = dict(files[name])
        assert published.pop("$schema") == contracts.JSON_SCHEMA_DIALECT
        assert published == model.model_json_schema()
        jsonschema.Draft202012Validator.check_schema(files[name])


def test_export_script_check_passes() -> None:
    import runpy

    script = runpy.run_path(str(SCHEMAS.parents[1] / "scripts" / "export_schemas.py"))
    assert script["main"](["--check"]) == 0


def _values(alias: Any) -> set[str]:
    return set(typing.get_args(alias))


def test_closed_value_sets_match_the_engine() -> None:
    assert _values(contracts.StateName) == {s.value for s in State}
    assert _values(contracts.ActionName) == set(TRANSITIONS)
    assert _values(contracts.EscalationTarget) == set(ESCALATION_LEVELS)
    assert _values(contracts.Certainty) == set(CERTAINTIES)
    assert {c.urgency for c in CATEGORIES.values()} | {category("no-such").urgency} <= _values(
        contracts.Urgency
    )
    assert {c.severity for c in CATEGORIES.values()} | {category("x").severity} <= _values(contracts.Severity)


def _incident(**changes: Any) -> Incident:
    row: dict[str, Any] = {
        "id": 7,
        "category": "sos",
        "priority": 1,
        "state": "reported",
        "status": "Actual",
        "urgency": "Immediate",
        "severity": "Extreme",
        "certainty": "Observed",
        "title": "一键报警求助 · B-001",
        "grid_id": "G-001",
        "community_id": "C-1",
        "street_id": "S-1",
        "source_kind": "button",
        "source_id": "B-001",
        "created_at": T0,
        "updated_at": T0 + 0.0005,
        "ack_deadline": T0 + 60,
        "close_deadline": T0 + 1800,
        "acknowledged_at": None,
        "dispatched_at": None,
        "started_at": None,
        "resolved_at": None,
        "closed_at": None,
        "evaluated_at": None,
        "escalation_level": 0,
        "trigger_count": 1,
        "last_trigger_at": T0,
        "evidence": {"cameras": [], "last_seq": 1, "device_ts": T0 - 0.05},
        "assignee": None,
        "disposition": None,
        "resolution_note": None,
        "evaluation": None,
        "linked_incident_id": None,
        "merged_into": None,
        "dispatch_status": "pending",
        "open_key": "sos:B-001",
        "version": 1,
    }
    return Incident.from_row({**row, **changes})


_TIME_FIELDS = (
    "created_at",
    "updated_at",
    "ack_deadline",
    "close_deadline",
    "acknowledged_at",
    "dispatched_at",
    "started_at",
    "resolved_at",
    "closed_at",
    "evaluated_at",
    "last_trigger_at",
)


def _dict_public(inc: Incident, now: float) -> dict[str, Any]:
    """public() as it was before the model: the keys, their order and their values must not change."""
    from dataclasses import fields

    from alarms.lifecycle import allowed_actions

    added = ("place",)  # compatible additions since: appended after the old keys
    out: dict[str, Any] = {
        f.name: getattr(inc, f.name) for f in fields(inc) if f.name != "open_key" and f.name not in added
    }
    for name in _TIME_FIELDS:
        out[name] = iso(getattr(inc, name))
    out["escalation_to"] = ESCALATION_LEVELS[inc.escalation_level]
    out["allowed_actions"] = allowed_actions(inc.state)
    out["ack_overdue"] = inc.acknowledged_at is None and inc.active and now > inc.ack_deadline
    out["close_overdue"] = (
        (inc.closed_at or inc.resolved_at) is None and inc.active and now > inc.close_deadline
    )
    out["place"] = inc.place
    return out


@pytest.mark.parametrize("state", [s.value for s in State])
@pytest.mark.parametrize("now", [T0, T0 + 61, T0 + 1801])
def test_public_is_the_old_dict_byte_for_byte(state: str, now: float) -> None:
    inc = _incident(state=state, escalation_level=2, acknowledged_at=T0 + 5 if state != "reported" else None)
    body = inc.public(now)
    assert json.dumps(body, ensure_ascii=False) == json.dumps(_dict_public(inc, now), ensure_ascii=False)
    IncidentBody.model_validate(body, strict=True)
    jsonschema.validate(body, _schema_file("incident.v1.json"))


def test_a_body_outside_the_contract_is_still_sent(caplog: pytest.LogCaptureFixture) -> None:
    """An alarm is never held back by its description: a stray value is logged, and the body goes out."""
    inc = replace(_incident(), certainty="Probably", disposition="lost")
    body = inc.public(T0)
    assert (body["certainty"], body["disposition"]) == ("Probably", "lost")
    assert "breaks the contract" in caplog.text


def test_real_incidents_and_their_events_validate(rig: Any) -> None:
    """Through the engine: the bodies of a button incident's life, and every webhook and MQTT event."""
    incident_id = rig.press("B-001")[0].incident.id
    rig.clock.advance(90)  # past the acknowledge deadline
    bodies = [rig.engine.get(incident_id).public(rig.clock.now)]
    assert bodies[0]["ack_overdue"] is True
    for action, kw in (
        ("acknowledge", {}),
        ("dispatch", {"assignee": "unit 7"}),
        ("start", {}),
        ("resolve", {}),
        ("close", {}),
        ("evaluate", {"evaluation": {"score": 5}}),
    ):
        rig.clock.advance(1)
        inc = rig.engine.act(incident_id, action, "op", f"{action} note", **kw)
        bodies.append(inc.public(rig.clock.now))
    schema = _schema_file("incident.v1.json")
    for body in bodies:
        IncidentBody.model_validate(body, strict=True)
        jsonschema.validate(body, schema)
    assert bodies[-1]["state"] == "evaluated" and bodies[-1]["allowed_actions"] == []

    event_schema = _schema_file("incident-event.v1.json")
    events = [json.loads(r["payload"]) for r in rig.outbox_rows(incident_id) if "/ack" not in r["target"]]
    assert {e["type"] for e in events} == {"incident.created", "incident.updated", "incident.closed"}
    for event in events:
        IncidentEvent.model_validate(event)
        jsonschema.validate(event, event_schema)
