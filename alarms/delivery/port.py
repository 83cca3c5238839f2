"""The delivery side as the runtime and the API use it, whichever process sends.

In process it is :class:`~alarms.delivery.worker.DeliveryWorker`; an API process whose notices leave
through ``--role delivery`` uses ``QueuedDelivery`` (it publishes to the JetStream work queue instead).
The composition root and ``dashboard.services.Services`` depend on this Protocol, not on either class."""

from __future__ import annotations

from typing import Protocol

from alarms.delivery.outbox import OutboxItem


class OutboxDelivery(Protocol):
    """Takes outbox rows after their transaction committed. Rows are in the outbox already, so a row this
    side drops (not started, queue unreachable) is delayed, never lost: a sweep finds it."""

    async def start(self) -> None:
        """On the event loop that will carry the sends (or the publishing)."""
        ...

    async def stop(self) -> None: ...

    def submit_threadsafe(self, items: list[OutboxItem]) -> None:
        """From any thread, right after commit (the engine's listener)."""
        ...

    def resubmit(self, item: OutboxItem) -> None:
        """An operator's retry of a dead letter, on the event loop."""
        ...
