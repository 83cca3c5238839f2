"""Writing delivery outcomes back to the outbox: one executemany per batch, and the incidents whose webhook
landed marked as reached in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, update

from alarms.delivery.outbox import OutboxItem
from alarms.storage.port import Database
from alarms.storage.schema import incidents, outbox

# Marks incidents as reached inside the recorder's transaction (the engine keeps its cache in step); what it
# returns runs once that transaction committed (the engine tells the operators' pages then, not before).
AfterCommit = Callable[[], None]
DeliveredHook = Callable[[Connection, set[int]], AfterCommit | None]


@dataclass(frozen=True, slots=True)
class Outcome:
    item: OutboxItem
    ok: bool
    retry_at: float | None  # None with ok=False: dead letter
    status: int | None
    error: str | None
    at: float


# The SET clause comes from the parameter keys (executemany).
_RECORD = update(outbox).where(outbox.c.id == bindparam("b_id"))


def record_outcomes(store: Database, batch: list[Outcome], mark_delivered: DeliveredHook) -> None:
    if not batch:
        return
    delivered_incidents: set[int] = set()
    params: list[dict[str, object]] = []
    for o in batch:
        row: dict[str, object] = {
            "b_id": o.item.id,
            "attempts": o.item.attempts + 1,
            "last_status": o.status,
            "last_error": o.error,
            "status": "pending",
            "delivered_at": None,
            "next_attempt_at": o.item.next_attempt_at,
        }
        if o.ok:
            row.update(status="delivered", delivered_at=o.at)
            if o.item.channel == "webhook" and o.item.incident_id is not None:
                delivered_incidents.add(o.item.incident_id)
        elif o.retry_at is None:
            row.update(status="dead")
        else:
            row.update(next_attempt_at=o.retry_at)
        params.append(row)
    after: AfterCommit | None = None
    with store.write(durable=False) as conn:  # lost to a power cut: a resend, deduped by webhook-id
        conn.execute(_RECORD, params)  # one executemany for the whole batch
        if delivered_incidents:
            after = mark_delivered(conn, delivered_incidents)
    if after is not None:
        after()


def mark_delivered_sql(conn: Connection, incident_ids: set[int]) -> AfterCommit | None:
    conn.execute(
        update(incidents)
        .where(incidents.c.id.in_(incident_ids), incidents.c.dispatch_status != "delivered")
        .values(dispatch_status="delivered")
    )
    return None
