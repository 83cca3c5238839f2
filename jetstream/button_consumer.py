"""The engine side of the button stream: presses, heartbeats and presence from `--role ingest`.

Every engine process pulls from one durable consumer of its own (not the observation consumer), so presses
never wait behind a camera backlog. A batch of signals goes into one `ingest_signals` call (one transaction,
as the local listener's group commit) and is acked only after it committed; `seen_events` keeps one incident
per event id however often a press arrives (two ingest processes, a redelivery).
"""

from __future__ import annotations

import logging
from typing import Any

from alarms.engine import IncidentEngine
from alarms.presence import PresenceMonitor
from ingest.button_message import BUTTON_SUBJECT_ROOT, ButtonMessage
from jetstream import streams

log = logging.getLogger(__name__)


class ButtonConsumer(streams.ApplyingConsumer[ButtonMessage]):
    what = "button message"

    def __init__(
        self,
        js: Any,
        engine: IncidentEngine,
        presence: PresenceMonitor,
        *,
        stream: str,
        durable: str,
        ack_wait_s: float = 30.0,
        batch: int = 256,
        retry_delay_s: float = 1.0,
    ) -> None:
        super().__init__(
            js,
            stream=stream,
            durable=durable,
            subject=f"{BUTTON_SUBJECT_ROOT}.>",
            ack_wait_s=ack_wait_s,
            batch=batch,
            retry_delay_s=retry_delay_s,
        )
        self.engine = engine
        self.presence = presence
        self.outcomes: dict[str, int] = {}

    def decode(self, data: bytes) -> ButtonMessage:
        return ButtonMessage.decode(data)

    def apply_all(self, batch: list[ButtonMessage]) -> list[bool]:
        """True for each message whose effect committed (or that can never commit: acked, as the local
        listener acks an event the engine reports as an error); False to have it redelivered."""
        ok = [True] * len(batch)
        signals = [(i, b.signal) for i, b in enumerate(batch) if b.signal is not None]
        if signals:
            try:
                outcomes = self.engine.ingest_signals([s for _, s in signals])
            except Exception:  # not committed (storage): every signal of the batch comes again
                log.exception(
                    "%d button signals not stored; redelivered in %.1f s", len(signals), self.retry_delay_s
                )
                for i, _ in signals:
                    ok[i] = False
            else:
                for outcome in outcomes:
                    self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        for i, b in enumerate(batch):
            if b.signal is not None:
                continue
            try:
                if b.op == "status":
                    self.presence.on_status(b.button_id, b.online, b.ts)
                else:
                    self.presence.record_reject(b.button_id, b.topic, b.reason, b.ts)
            except Exception:
                log.exception("button %s %s not stored; redelivered", b.op, b.button_id)
                ok[i] = False
        return ok
