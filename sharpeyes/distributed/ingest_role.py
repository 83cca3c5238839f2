"""`sharpeyes run --role ingest`: buttons from an MQTT 5 shared subscription into JetStream.

Run two or more (a StatefulSet: each with its own stable MQTT client id, `SHARPEYES_INGEST_ID`); the broker
splits the presses between them. A press is acknowledged to the broker only after JetStream stored it; the
engine role turns it into an incident. With this role deployed set `distributed.buttons_via: ingest`, so the
API processes stop subscribing to the button topics themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from ingest.button_message import ButtonMessage
from ingest.shared_listener import SharedButtonListener
from jetstream.buttons import ensure_button_stream
from jetstream.connection import connect
from sharpeyes.distributed.role_process import run_until_signal
from sharpeyes.settings import Settings

log = logging.getLogger(__name__)

INGEST_ID_ENV = "SHARPEYES_INGEST_ID"
DEFAULT_GROUP = "sharpeyes-ingest"


def client_id(settings: Settings, env: Mapping[str, str]) -> str:
    """The env override first: in Kubernetes it is the StatefulSet pod name (`sharpeyes-ingest-0`), stable
    across restarts, so a restarted process resumes its own broker session and the presses held in it."""
    return env.get(INGEST_ID_ENV) or settings.distributed.ingest.client_id


class IngestRole:
    """One NATS connection, one MQTT 5 client; `listener` carries the counters tests and logs read."""

    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.env = os.environ if env is None else env
        self.registry = registry or CollectorRegistry()
        self.nc: Any = None
        self.js: Any = None
        mqtt_cfg = settings.mqtt
        icfg = settings.distributed.ingest
        password = self.env.get(mqtt_cfg.password_env) if mqtt_cfg.password_env else None
        known = frozenset(b.id for b in settings.buttons)
        self.listener = SharedButtonListener(
            mqtt_cfg,
            password,
            client_id=client_id(settings, self.env),
            group=mqtt_cfg.shared_group or DEFAULT_GROUP,
            session_expiry_s=icfg.session_expiry_s,
            receive_maximum=icfg.receive_maximum,
            known=known.__contains__,
            publish=self.publish,
            registry=self.registry,
            retry_max_s=icfg.retry_max_s,
        )

    async def start(self, stop: asyncio.Event) -> bool:
        """NATS first (retried until `stop`): presses are only taken from the broker once they can be
        stored. False when stopped before that."""
        cfg = self.settings.distributed
        delay = 0.5
        while not stop.is_set():
            try:
                self.nc = await connect(cfg, self.env, name=f"sharpeyes-{self.listener.client_id}")
                self.js = self.nc.jetstream()
                await ensure_button_stream(
                    self.js, cfg.ingest.stream, cfg.stream_replicas, cfg.duplicate_window_s
                )
                break
            except Exception as exc:  # loop boundary: NATS or JetStream not there yet
                log.warning(
                    "NATS/JetStream at %s not ready (%s); retrying in %.1f s", cfg.nats_url, exc, delay
                )
                await self._close_nats()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 10.0)
        else:
            return False
        await self.listener.start()
        log.info(
            "ingest %s: %s → JetStream %s", self.listener.client_id, self.listener.topics, cfg.ingest.stream
        )
        return True

    async def publish(self, msg: ButtonMessage) -> bool:
        """True once JetStream stored it, False for a repeat it already had; raises otherwise."""
        cfg = self.settings.distributed
        ack = await self.js.publish(
            msg.subject(),
            msg.encode(),
            timeout=cfg.publish_timeout_s,
            stream=cfg.ingest.stream,
            headers={"Nats-Msg-Id": msg.msg_id},
        )
        return not ack.duplicate

    async def stop(self) -> None:
        await self.listener.stop()
        await self._close_nats()

    async def _close_nats(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
        self.nc = None


async def run_ingest(
    settings: Settings,
    stop: asyncio.Event,
    env: Mapping[str, str] | None = None,
    registry: CollectorRegistry | None = None,
) -> IngestRole:
    """Until `stop`; returns the role (its counters) for tests and logs."""
    role = IngestRole(settings, env, registry)
    try:
        if await role.start(stop):
            await stop.wait()
    finally:
        await role.stop()
    return role


def main(settings: Settings) -> int:
    """Blocking entry for the CLI: SIGINT/SIGTERM stop; unacked presses stay with the broker's session."""

    async def run(stop: asyncio.Event, registry: CollectorRegistry) -> None:
        role = await run_ingest(settings, stop, registry=registry)
        log.info("ingest stopped: %d MQTT messages acked", role.listener.acked)

    return run_until_signal(settings.distributed, "ingest", run)
