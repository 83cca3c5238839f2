"""Where the local runtime sends webhooks and MQTT notices from (`delivery:` in the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Strict


class DeliverySenderConfig(Strict):
    sender: Literal["in_process", "own_process"] = Field(
        "in_process",
        description="in_process: the service's own process sends; own_process: a child process sends "
        "(the same worker, retries and records), so a burst of presses does not queue behind sending "
        "on the same core. Needs a database file or PostgreSQL (not SQLite in memory).",
    )
    restart_s: float = Field(
        1.0, gt=0, le=60, description="own_process: wait before restarting a sender process that died"
    )
