"""Notices to the people sent: one outbox row per person and channel (a signed webhook to the SMS/WeChat
gateway with the text already written from the template, and the person's own MQTT topic for a field app),
so they ride the same durable outbox, retries and dead-letter alarm as the police webhook."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from alarms.categories import category
from alarms.delivery.outbox import dumps
from alarms.field_config import FieldConfig
from alarms.incidents import Incident
from alarms.locale import local_time
from alarms.timefmt import iso

if TYPE_CHECKING:  # field_actions imports this module
    from alarms.field_actions import Target

NOTICE_EVENT = "field.notice"


def person_topic(prefix: str, person_id: str) -> str:
    return f"{prefix}/people/{person_id}/tasks"


def _place(inc: Incident) -> str:
    place = inc.place or {}
    parts = [place.get("address"), place.get("landmark")]
    named = " ".join(str(p) for p in parts if p)
    return named or str(place.get("grid_name") or inc.grid_id)


def notice_body(
    cfg: FieldConfig,
    tz: str,
    inc: Incident,
    target: Target,
    notice: str,
    now: float,
    deadlines: tuple[float, float] | None,
) -> dict[str, Any]:
    """What the gateway turns into an SMS: the text in both languages, and the facts behind it."""
    cat = category(inc.category)
    link = f"{cfg.page_url}#incident-{inc.id}"
    accept_by, arrive_by = deadlines or (None, None)
    fill = {
        "place": _place(inc),
        "accept_by": local_time(accept_by, tz)[11:16] if accept_by else "—",
        "arrive_by": local_time(arrive_by, tz)[11:16] if arrive_by else "—",
        "link": link,
    }
    photos = [p.get("url") for p in inc.evidence.get("photos", [])]
    return {
        "type": NOTICE_EVENT,
        "timestamp": iso(now),
        "data": {
            "notice": notice,  # dispatch | urge | returned | reopened
            "to": {"kind": target.kind, "id": target.id, "name": target.name, "phone": target.phone},
            "incident": {
                "id": inc.id,
                "category": inc.category,
                "title": inc.title,
                "state": inc.state,
                "grid_id": inc.grid_id,
                "place": inc.place,
            },
            "accept_by": iso(accept_by) if accept_by else None,
            "arrive_by": iso(arrive_by) if arrive_by else None,
            "link": link,
            "photos": photos,
            "text_zh": cfg.template_zh.format(category=cat.title_zh, **fill),
            "text_en": cfg.template_en.format(category=cat.title_en, **fill),
        },
    }


def notice_rows(
    cfg: FieldConfig,
    tz: str,
    prefix: str,
    inc: Incident,
    target: Target,
    notice: str,
    now: float,
    deadlines: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    payload = dumps(notice_body(cfg, tz, inc, target, notice, now, deadlines))
    base = {
        "incident_id": inc.id,
        "event_type": NOTICE_EVENT,
        "life_safety": category(inc.category).life_safety,
        "created_at": now,
        "source_ts": None,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "payload": payload,
    }
    rows = []
    if cfg.gateway and "gateway" in target.channels:
        rows.append({**base, "msg_id": _msg_id(), "channel": "webhook", "target": cfg.gateway})
    if target.kind == "person" and "mqtt" in target.channels:
        rows.append(
            {**base, "msg_id": _msg_id(), "channel": "mqtt", "target": person_topic(prefix, target.id)}
        )
    return rows


def _msg_id() -> str:
    return f"msg_{uuid.uuid4().hex}"
