"""Outbox rows: what must leave the system because an incident changed. Written in the same
transaction as the change, so a crash can delay a delivery but never lose it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert

from alarms.categories import CONFIRMED, category, certainty_rank
from alarms.config import WebhookConfig
from alarms.storage.schema import outbox
from alarms.timefmt import iso


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    msg_id: str
    incident_id: int | None
    channel: str  # webhook | mqtt
    target: str
    event_type: str
    payload: str
    life_safety: bool
    created_at: float
    source_ts: float | None
    attempts: int
    next_attempt_at: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OutboxItem:
        return cls(
            id=row["id"],
            msg_id=row["msg_id"],
            incident_id=row["incident_id"],
            channel=row["channel"],
            target=row["target"],
            event_type=row["event_type"],
            payload=row["payload"],
            life_safety=bool(row["life_safety"]),
            created_at=row["created_at"],
            source_ts=row["source_ts"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
        )


def event_type_for(action: str) -> str:
    """The event type of a change (``confirmed``, a camera rule confirming a suspicion, is an update)."""
    if action == "created":
        return "incident.created"
    if action == "escalate":
        return "incident.escalated"
    if action == "merge":  # its own event: the body's merged_into names the incident it went into
        return "incident.merged"
    if action in ("close", "cancel", "auto_close"):
        return "incident.closed"
    return "incident.updated"


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def envelope(event_type: str, incident: dict[str, Any], change: dict[str, Any], now: float) -> dict[str, Any]:
    """The Standard Webhooks style body: type, timestamp and data."""
    return {"type": event_type, "timestamp": iso(now), "data": {**incident, "change": change}}


def endpoint_event(
    hook: WebhookConfig, category_name: str, action: str, confirmed: bool, confirms: bool = False
) -> str | None:
    """The event type this endpoint gets for a change, or None.

    Police dispatch acts on confirmed incidents; operators see suspected ones on the page and over MQTT. An
    endpoint with ``min_level: confirmed`` therefore hears nothing of an unconfirmed incident, and the change
    that confirms it is the first it hears: ``incident.created`` (with ``change.action`` ``confirmed``, or
    ``dispatch`` when an operator who verified a suspicion sends people: ``confirms``).
    """
    if hook.categories is not None and category_name not in hook.categories:
        return None
    event_type = event_type_for(action)
    if hook.min_level == "confirmed":
        if not confirmed:
            return None
        if action == "confirmed" or confirms:
            event_type = "incident.created"
    if event_type == "incident.merged" and event_type not in hook.events:
        event_type = "incident.updated"  # an endpoint that lists events from before merges still hears it
    return event_type if event_type in hook.events else None


@dataclass(frozen=True, slots=True)
class Routing:
    """Where incident changes go: webhook endpoints and the MQTT topic prefix."""

    endpoints: Sequence[WebhookConfig]
    prefix: str

    def sends_webhook(self, category_name: str, action: str) -> bool:
        """Whether a change is likely to reach an endpoint (the engine marks dispatch pending). Asked without
        the incident: a graded category counts as unconfirmed except for its confirmation, so a suspicion
        never shows "dispatch pending" for an endpoint that waits for confirmation."""
        cat = category(category_name)
        if not cat.to_webhooks:
            return False
        confirmed = not cat.graded or action in ("confirmed", "dispatch")
        return any(endpoint_event(h, category_name, action, confirmed) for h in self.endpoints)

    def rows_for(
        self,
        incident: dict[str, Any],
        action: str,
        change: dict[str, Any],
        now: float,
        source_ts: float | None = None,
        confirms: bool = False,
    ) -> list[dict[str, Any]]:
        event_type = event_type_for(action)
        cat = category(incident["category"])
        body = dumps(envelope(event_type, incident, change, now))
        bodies = {event_type: body}
        confirmed = certainty_rank(incident.get("certainty")) >= certainty_rank(CONFIRMED)
        base = {
            "incident_id": incident["id"],
            "event_type": event_type,
            "life_safety": cat.life_safety,
            "created_at": now,
            "source_ts": source_ts,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        rows: list[dict[str, Any]] = []
        if cat.to_webhooks:
            for hook in self.endpoints:
                hook_event = endpoint_event(hook, incident["category"], action, confirmed, confirms)
                if hook_event is None:
                    continue
                if hook_event not in bodies:
                    bodies[hook_event] = dumps(envelope(hook_event, incident, change, now))
                rows.append(
                    {
                        **base,
                        "event_type": hook_event,
                        "msg_id": _msg_id(),
                        "channel": "webhook",
                        "target": hook.name,
                        "payload": bodies[hook_event],
                    }
                )
        rows.append(
            {
                **base,
                "msg_id": _msg_id(),
                "channel": "mqtt",
                "target": f"{self.prefix}/incidents/{incident['grid_id']}",
                "payload": body,
            }
        )
        ack = self._button_ack(incident, action, now)
        if ack is not None:
            rows.append({**base, **ack})
        return rows

    def receipt_rows(self, incident: dict[str, Any], seq: int, boot: int, now: float) -> list[dict[str, Any]]:
        """A press the button sent again (it heard no receipt): the receipt again, for the incident it
        belongs to. No incident change, so nothing else leaves."""
        return [
            {
                "incident_id": incident["id"],
                "event_type": "button.received",
                "life_safety": True,
                "created_at": now,
                "source_ts": None,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                **self._ack_row(incident["source_id"], _receipt(incident, seq, boot, now)),
            }
        ]

    def _button_ack(self, incident: dict[str, Any], action: str, now: float) -> dict[str, Any] | None:
        """What the pole hears on its ack topic: `received` once a press is stored (the firmware stops
        re-sending it), then `acknowledged` and `dispatched` as operators act."""
        if incident["source_kind"] != "button":
            return None
        if action in ("created", "retrigger") and incident["category"] == "sos":
            evidence = incident.get("evidence") or {}
            body = _receipt(incident, evidence.get("last_seq"), evidence.get("last_boot", 0), now)
        elif action in ("acknowledge", "dispatch"):
            body = {
                "type": "acknowledged" if action == "acknowledge" else "dispatched",
                "incident_id": incident["id"],
                "state": incident["state"],
                "ts": iso(now),
                "message_zh": "已受理，请保持冷静" if action == "acknowledge" else "警力已出动，请稍候",
                "message_en": "Help request received"
                if action == "acknowledge"
                else "Police are on their way",
            }
        else:
            return None
        return self._ack_row(incident["source_id"], body)

    def merged_button_acks(
        self, merged: dict[str, Any], target: dict[str, Any], action: str, now: float
    ) -> list[dict[str, Any]]:
        """The pole of an SOS merged into ``target`` hears the target's acknowledgement or dispatch, with
        its own incident id and the target's id and state."""
        if merged["source_kind"] != "button" or action not in ("acknowledge", "dispatch"):
            return []
        ack = self._button_ack({**merged, "state": target["state"]}, action, now)
        if ack is None:
            return []
        ack["payload"] = dumps({**json.loads(ack["payload"]), "merged_into": target["id"]})
        base = {
            "incident_id": merged["id"],
            "event_type": f"button.{action}",
            "life_safety": True,
            "created_at": now,
            "source_ts": None,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        return [{**base, **ack}]

    def _ack_row(self, button_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "msg_id": _msg_id(),
            "channel": "mqtt",
            "target": f"{self.prefix}/buttons/{button_id}/ack",
            "payload": dumps(body),
        }


def _receipt(incident: dict[str, Any], seq: Any, boot: Any, now: float) -> dict[str, Any]:
    return {
        "type": "received",
        "seq": seq,
        "boot": boot,
        "incident_id": incident["id"],
        "state": incident["state"],
        "ts": iso(now),
        "message_zh": "报警已送达",
        "message_en": "Alarm received",
    }


def _msg_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> list[OutboxItem]:
    if not rows:
        return []
    result = conn.execute(insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True), rows)
    ids = [r[0] for r in result]
    return [OutboxItem.from_row({**row, "id": id_}) for row, id_ in zip(rows, ids, strict=True)]
