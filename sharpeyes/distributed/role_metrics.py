"""Prometheus /metrics for the roles that have no HTTP API of their own (engine, delivery, ingest).

Each such process is scraped on `distributed.metrics_listen` (a pod's own address in Kubernetes); the API role
already serves /metrics beside its API.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

from sharpeyes.distributed.config import DistributedConfig

log = logging.getLogger(__name__)


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
