"""The engine a shard's video pipeline talks to: the same three calls, published to JetStream.

VideoPipeline calls the engine from its `video-alarms` thread and retries a call that raises; this facade
keeps that contract (return: JetStream stored it; exception: retry) over nats-py's asyncio client, which runs
on a private event-loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from alarms.engine import Trigger
from alarms.observation_bus import BusMessage, ObservationPublisher, ensure_stream
from sharpeyes.distributed.config import DistributedConfig
from sharpeyes.distributed.nats_conn import connect


class BusEngine:
    """Duck-types the IncidentEngine methods VideoPipeline uses; never touches the database."""

    def __init__(
        self, cfg: DistributedConfig, env: Mapping[str, str] | None = None, name: str = "shard"
    ) -> None:
        self.cfg = cfg
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus", daemon=True)
        self._thread.start()
        self._nc: Any = self._run(connect(cfg, env, name=name), timeout=15.0)
        js = self._nc.jetstream()
        self._run(ensure_stream(js, cfg.stream, cfg.stream_replicas, cfg.duplicate_window_s), timeout=15.0)
        self.publisher = ObservationPublisher(js, cfg.stream, cfg.publish_timeout_s)

    def _run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def send(self, msg: BusMessage) -> bool:
        """Blocks until JetStream acked (True: stored, False: a repeat it dropped); raises on failure."""
        return bool(self._run(self.publisher.publish(msg), timeout=self.cfg.publish_timeout_s + 1.0))

    # ----- the IncidentEngine surface VideoPipeline uses --------------------------------------------------
    def observe_condition(self, trigger: Trigger, *, cleared: bool = False) -> bool:
        return self.send(BusMessage("observe", trigger=trigger, cleared=cleared))

    def raise_condition(self, trigger: Trigger) -> bool:
        return self.send(BusMessage("raise", trigger=trigger))

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> bool:
        import time

        ts = time.time() if now is None else now
        return self.send(BusMessage("clear", category=category_name, source_id=source_id, note=note, ts=ts))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing anyway
            self._run(self._nc.drain(), timeout=5.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
