"""The engine side of the observation stream: a durable pull consumer with explicit ack.

Every engine process pulls from the same durable consumer, so JetStream splits the work between them. A
message is acked only after the engine call has committed; a process killed in between leaves it unacked and
JetStream redelivers it after `ack_wait` (to this or another engine), where `seen_events` drops the repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jetstream import streams
from jetstream.observations import SUBJECT_ROOT, BusMessage

log = logging.getLogger(__name__)


def apply(engine: Any, msg: BusMessage) -> None:
    """The engine call the local video pipeline would have made; raises when the store did not commit."""
    if msg.op == "clear":
        engine.clear_condition(msg.category, msg.source_id, msg.note, now=msg.ts)
    elif msg.op == "raise":
        engine.raise_condition(msg.trigger)
    else:
        engine.observe_condition(msg.trigger, cleared=msg.cleared)


class ObservationConsumer(streams.ApplyingConsumer[BusMessage]):
    """Applies observations one engine call each, as the local video pipeline would have made them."""

    what = "observation"

    def __init__(
        self,
        js: Any,
        engine: Any,
        *,
        stream: str,
        durable: str = "engine",
        ack_wait_s: float = 30.0,
        batch: int = 64,
        retry_delay_s: float = 2.0,
        on_applied: Callable[[BusMessage], None] | None = None,
    ) -> None:
        super().__init__(
            js,
            stream=stream,
            durable=durable,
            subject=f"{SUBJECT_ROOT}.>",
            ack_wait_s=ack_wait_s,
            batch=batch,
            retry_delay_s=retry_delay_s,
        )
        self.engine = engine
        self.on_applied = on_applied
        self.applied = 0
        self.failed = 0

    def decode(self, data: bytes) -> BusMessage:
        return BusMessage.decode(data)

    def acked(self, item: BusMessage) -> None:
        if self.on_applied is not None:
            self.on_applied(item)

    def apply_all(self, items: list[BusMessage]) -> list[bool]:
        out = []
        for msg in items:
            try:
                apply(self.engine, msg)
            except Exception:  # the store did not commit: nak, JetStream redelivers it later
                self.failed += 1
                log.exception(
                    "observation %s not applied; redelivered in %.1f s", msg.msg_id, self.retry_delay_s
                )
                out.append(False)
            else:
                self.applied += 1
                out.append(True)
        return out
