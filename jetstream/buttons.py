"""The JetStream stream of button messages (`SHARPEYES_BUTTONS`, subjects `sharpeyes.buttons.>`).

A stream of its own, not the observation stream: the engines pull it with a consumer of its own, so a backlog
of camera observations in a storm never queues ahead of a panic press, and presses keep their own retention.
`Nats-Msg-Id` is the press's event id (button, boot, seq), so a QoS 1 redelivery or a press seen by two
ingest processes is stored once inside the duplicate window.
"""

from __future__ import annotations

from typing import Any

from ingest.button_message import BUTTON_SUBJECT_ROOT
from jetstream import streams


async def ensure_button_stream(
    js: Any, name: str, replicas: int = 1, duplicate_window_s: float = 600.0
) -> None:
    """Kept 30 days for audit; the engines' durable consumer tracks progress."""
    await streams.ensure_stream(
        js,
        name,
        BUTTON_SUBJECT_ROOT,
        replicas=replicas,
        duplicate_window_s=duplicate_window_s,
        max_age_s=30 * 86400,
    )
