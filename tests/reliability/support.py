"""Shared pieces of the fault tests: a steady press load that records what the broker accepted, and the
accounting of what reached the receiver and the database."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sharpeyes.receiver import DispatchReceiver

Press = tuple[str, int]  # button id, seq


class PressLoad:
    """Presses at a steady rate from a button fleet, round robin, QoS 1. A press counts as published only
    once the broker acknowledged it (PUBACK): from then on, losing it is the service's fault."""

    def __init__(self, port: int, buttons: list[str], rate: float, prefix: str = "se") -> None:
        self.buttons = buttons
        self.interval = 1.0 / rate
        self.prefix = prefix
        self.published: list[Press] = []
        self.sent_at: dict[Press, float] = {}
        self.failed = 0
        self._stop = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"press-load-{port}")
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="press-load", daemon=True)

    def start(self) -> PressLoad:
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            button = self.buttons[n % len(self.buttons)]
            n += 1
            seq = n
            ts = time.time()
            body = json.dumps({"kind": "press", "ts": ts, "seq": seq})
            try:  # a broker restart makes paho raise here: that press was simply not published
                info = self._client.publish(f"{self.prefix}/buttons/{button}/event", body, qos=1)
                info.wait_for_publish(5)
                ok = info.is_published()
            except (RuntimeError, ValueError):
                ok = False
            if ok:
                self.published.append((button, seq))
                self.sent_at[(button, seq)] = ts
            else:
                self.failed += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._client.loop_stop()
        self._client.disconnect()


def delivered_presses(receiver: DispatchReceiver) -> Counter[Press]:
    """How many distinct webhook messages (by webhook-id) carried each press."""
    with receiver._lock:
        bodies = [r.body["data"] for r in receiver.received.values()]
    return Counter(
        (d["source_id"], d["evidence"]["last_seq"])
        for d in bodies
        if d.get("source_kind") == "button" and d["change"]["action"] in ("created", "retrigger")
    )


def stored_presses(db: Path) -> Counter[Press]:
    """How many timeline entries each press made (the engine writes one per stored press)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT i.source_id, t.note FROM timeline t JOIN incidents i ON i.id = t.incident_id "
            "WHERE i.category = 'sos' AND t.action IN ('created', 'retrigger')"
        ).fetchall()
    finally:
        conn.close()
    return Counter((source, int(note.rsplit("seq=", 1)[1])) for source, note in rows)


@dataclass
class Accounting:
    published: int
    lost_in_store: list[Press]
    twice_in_store: list[Press]
    not_delivered: list[Press]
    duplicate_deliveries: int  # same webhook-id delivered again (allowed: receivers dedupe by id)
    extra: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"published {self.published}, lost in store {len(self.lost_in_store)}, stored twice "
            f"{len(self.twice_in_store)}, not delivered {len(self.not_delivered)}, duplicate deliveries "
            f"{self.duplicate_deliveries} {self.extra}"
        )


def account(published: list[Press], receiver: DispatchReceiver, db: Path) -> Accounting:
    stored = stored_presses(db)
    delivered = delivered_presses(receiver)
    return Accounting(
        published=len(published),
        lost_in_store=[p for p in published if stored[p] == 0],
        twice_in_store=[p for p, n in stored.items() if n > 1],
        not_delivered=[p for p in published if delivered[p] == 0],
        duplicate_deliveries=receiver.duplicates,
    )


def wait_until(predicate, timeout: float, step: float = 0.2) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
