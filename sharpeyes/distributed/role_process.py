"""What every role process without an HTTP API of its own (engine, delivery, ingest) does the same way.

Prometheus /metrics on `distributed.metrics_listen` (a pod's own address in Kubernetes; the API role serves
/metrics beside its API), and a run that SIGINT/SIGTERM end cleanly: the role finishes what is in hand and
leaves the rest unacked for JetStream or the broker to hand out again.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from jetstream.config import DistributedConfig

log = logging.getLogger(__name__)

RoleRun = Callable[[asyncio.Event, CollectorRegistry], Awaitable[Any]]


def serve_metrics(cfg: DistributedConfig, registry: CollectorRegistry, role: str) -> None:
    """Starts a daemon HTTP thread when configured; a busy port is logged and the role runs on without it."""
    if not cfg.metrics_listen:
        return
    host, _, port = cfg.metrics_listen.rpartition(":")
    try:
        start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)
    except OSError as exc:
        log.error("%s role: cannot serve /metrics on %s: %s", role, cfg.metrics_listen, exc)
        return
    log.info("%s role: /metrics on %s", role, cfg.metrics_listen)


def run_until_signal(cfg: DistributedConfig, role: str, run: RoleRun) -> int:
    """Blocking entry for `sharpeyes run --role ROLE`: exit status 0 after a clean stop."""

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        registry = CollectorRegistry()
        serve_metrics(cfg, registry, role)
        await run(stop, registry)

    asyncio.run(body())
    return 0
