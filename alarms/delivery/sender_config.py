"""Where the local runtime sends webhooks and MQTT notices from (`delivery:` in the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Strict


class DeliverySenderConfig(Strict):
    sender: Literal["in_process", "own_process"] = Field(
        "own_process",
        description="own_process (default): a child process sends (the same worker, retries and records), "
        "so presses are stored on one core while sending runs on another (p99 at 200 presses/s: 16-24 ms "
        "against 22-30 ms in process, benchmarks/README.md); in_process: the service's own process sends "
        "(one process less, for small machines). SQLite in memory always sends in process.",
    )
    restart_s: float = Field(
        1.0, gt=0, le=60, description="own_process: wait before restarting a sender process that died"
    )
