"""What every JetStream stream and pull consumer of ours does the same way: create-or-update a stream, and a
fetch loop that survives broker hiccups and handler failures (unsettled messages are redelivered)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


async def ensure_stream(
    js: Any,
    name: str,
    subject_root: str,
    *,
    replicas: int = 1,
    duplicate_window_s: float = 600.0,
    work_queue: bool = False,
    max_age_s: float | None = None,
) -> None:
    """File storage; `work_queue`: a message lives until acked, else kept (for audit) until `max_age_s`.
    An existing stream is brought to this config, so a changed replica count or window takes effect."""
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(
        name=name,
        subjects=[f"{subject_root}.>"],
        retention=RetentionPolicy.WORK_QUEUE if work_queue else RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=duplicate_window_s,
        max_age=max_age_s,
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def pull_until(
    stop: asyncio.Event,
    sub: Any,
    handle: Callable[[list[Any]], Awaitable[None]],
    *,
    batch: int,
    where: str,
) -> None:
    """Fetch and handle until `stop`; a fetch timeout is an idle second, anything else is logged, retried."""
    from nats.errors import TimeoutError as NatsTimeout

    while not stop.is_set():
        try:
            msgs = await sub.fetch(batch, timeout=1.0)
        except NatsTimeout:
            continue
        except Exception:  # loop boundary: a broker hiccup must not end the consumer
            log.exception("fetch from %s failed; retrying", where)
            await asyncio.sleep(1.0)
            continue
        try:
            await handle(msgs)
        except Exception:  # loop boundary: what was not settled is redelivered by JetStream
            log.exception("%d messages from %s not settled; JetStream redelivers them", len(msgs), where)
            await asyncio.sleep(1.0)
