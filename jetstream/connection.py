"""One place that opens a NATS connection from the distributed settings (servers, credentials, reconnects)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from jetstream.config import DistributedConfig


async def connect(
    cfg: DistributedConfig,
    env: Mapping[str, str] | None = None,
    name: str = "sharpeyes",
    reconnected_cb: Callable[[], Awaitable[None]] | None = None,
) -> Any:
    """Reconnects forever: a broker restart must not end a shard or an engine process."""
    import nats

    env = os.environ if env is None else env
    creds = env.get(cfg.nats_credentials_env) if cfg.nats_credentials_env else None
    return await nats.connect(
        servers=[s.strip() for s in cfg.nats_url.split(",") if s.strip()],
        name=name,
        user_credentials=creds,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        **({"reconnected_cb": reconnected_cb} if reconnected_cb is not None else {}),
    )
