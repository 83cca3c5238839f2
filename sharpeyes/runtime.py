"""The local runtime: every part in one process, wired from Settings. The same interfaces take the
distributed runtime later (DESIGN.md section 6)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry

from alarms.delivery.outbox import Routing
from alarms.delivery.worker import DeliveryWorker, Endpoint
from alarms.devices import ensure_devices
from alarms.engine import Change, IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.presence import PresenceMonitor
from alarms.queries import Scope
from alarms.storage.store import Store
from dashboard.auth import Principal, TokenBook
from dashboard.live import LiveHub, incident_events
from dashboard.services import Services
from dashboard.webrtc import WebRtcHub
from ingest.button_payload import Reject
from ingest.mqtt_client import ButtonListener
from ingest.types import PanicSignal
from sharpeyes.broker import EmbeddedBroker
from sharpeyes.gc_pauses import GcPauses, freeze_startup_objects
from sharpeyes.settings import Settings
from video.pipeline import VideoPipeline
from video.snapshots import SnapshotStore

log = logging.getLogger(__name__)


def build_directory(settings: Settings) -> GridDirectory:
    directory = GridDirectory.build(settings.grids)
    for b in settings.buttons:
        location = b.location.model_dump(exclude_none=True) if b.location else {}
        directory.place(b.id, b.grid, tuple(b.cameras), location)
    return directory


def build_tokens(settings: Settings, env: Mapping[str, str]) -> TokenBook:
    entries = []
    for t in settings.auth.api_tokens:
        scope = Scope(
            frozenset(t.streets) if t.streets is not None else None,
            frozenset(t.grids) if t.grids is not None else None,
        )
        entries.append((env.get(t.token_env, ""), Principal(t.name, t.role, scope)))
    return TokenBook.build(entries)


class LocalRuntime:
    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        freeze_gc: bool = False,
    ) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.clock = clock
        self.tick_s = tick_s
        self.freeze_gc = freeze_gc  # the service process does; tests that build many runtimes do not
        self.registry = registry or CollectorRegistry()
        self.store = Store(settings.storage.url)
        self.directory = build_directory(settings)
        self.metrics = AlarmMetrics(self.registry)
        self.gc_pauses = GcPauses(self.registry)
        self.engine = IncidentEngine(
            self.store,
            self.directory,
            settings.sla,
            Routing(settings.webhooks, settings.mqtt.prefix),
            self.metrics,
            clock=clock,
            dedup_window_s=settings.storage.dedup_window_s,
        )
        timeouts = {
            b.id: b.heartbeat_timeout_s or settings.presence.heartbeat_timeout_s for b in settings.buttons
        }
        self.presence = PresenceMonitor(self.engine, timeouts, started_at=clock())
        mqtt_password = env.get(settings.mqtt.password_env) if settings.mqtt.password_env else None
        self.listener = ButtonListener(
            settings.mqtt,
            mqtt_password,
            known=self.directory.knows,
            on_signal=self._on_signals,
            on_status=self.presence.on_status,
            on_reject=self._on_reject,
            registry=self.registry,
            clock=clock,
        )
        endpoints = {w.name: Endpoint.build(w, env.get(w.secret_env, "")) for w in settings.webhooks}
        self.delivery = DeliveryWorker(
            self.store,
            endpoints,
            self.metrics,
            mqtt_publish=self.listener.publish,
            on_dead_letter=lambda item, error: self.engine.dispatch_failed(
                item.incident_id, item.target, error
            ),
            mark_delivered=self.engine.mark_delivered,
            clock=clock,
        )
        self.hub = LiveHub()
        self.broker = (
            EmbeddedBroker(settings.mqtt.host, settings.mqtt.port) if settings.mqtt.embedded else None
        )
        self.engine.subscribe_batch(self._on_changes)
        self.video = (
            VideoPipeline(
                settings.cameras,
                settings.detectors,
                settings.video,
                engine=self.engine,
                directory=self.directory,
                snapshots=SnapshotStore(settings.storage.snapshots_path()),
                registry=self.registry,
                env=env,
            )
            if settings.cameras
            else None
        )
        self.services = Services(
            store=self.store,
            engine=self.engine,
            delivery=self.delivery,
            hub=self.hub,
            tokens=build_tokens(settings, env),
            registry=self.registry,
            readiness=lambda: {"mqtt": self.listener.wait_connected(0)},
            clock=clock,
            auth=settings.auth,
            video=self.video,
            live=self._live_hub(),
            live_config=settings.live_video,
        )
        self._ticker: asyncio.Task[None] | None = None
        # An API process whose buttons come through --role ingest and whose notices leave through
        # --role delivery has no use for a broker connection (and several replicas may then run).
        self.uses_mqtt = True

    def _live_hub(self) -> WebRtcHub | None:
        """WebRTC live view of the enabled cameras; B-frame cameras re-encode the reader's own frames."""
        if self.video is None:
            return None
        live, cams = self.settings.live_video, [c for c in self.settings.cameras if c.enabled]
        return WebRtcHub(
            {c.id: c.url for c in cams},
            transports={c.id: c.transport for c in cams},
            mode=live.mode,
            frames=self.video.latest_frame,
            max_viewers_per_camera=live.max_viewers_per_camera,
            idle_stop_s=live.idle_stop_s,
            enabled=live.webrtc,
        )

    # ----- wiring callbacks ------------------------------------------------------------------------------
    def _on_signals(self, sigs: list[PanicSignal]) -> list[str]:
        return self.engine.ingest_signals(sigs)

    def _on_reject(self, reject: Reject, now: float) -> None:
        if reject.device_id is not None:
            self.presence.record_reject(reject.device_id, reject.topic, reject.reason, now)

    def _on_changes(self, changes: list[Change]) -> None:
        """After each commit: outbox rows to the delivery worker, events to live clients, one hop each."""
        self.delivery.submit_threadsafe([item for c in changes for item in c.outbox])
        now = self.clock()
        self.hub.publish_many_threadsafe(incident_events(changes, now))

    # ----- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.hub.bind(loop)
        await asyncio.to_thread(self._prepare_store)
        if self.broker is not None:
            await self.broker.start()
        await self.delivery.start()
        if self.uses_mqtt:
            self.listener.start()
        if self.uses_mqtt and not await asyncio.to_thread(self.listener.wait_connected, 5.0):
            log.warning(
                "MQTT broker %s:%s not reachable yet; retrying in the background",
                self.settings.mqtt.host,
                self.settings.mqtt.port,
            )
        self._ticker = asyncio.create_task(self._tick_loop())
        self.gc_pauses.install()
        if self.freeze_gc:
            freeze_startup_objects()
        if self.video is not None:
            await asyncio.to_thread(self.video.start)  # loads models: seconds, off the event loop
        log.info(
            "sharpeyes started: %d grids, %d buttons", len(self.settings.grids), len(self.settings.buttons)
        )

    def _prepare_store(self) -> None:
        self.store.migrate()
        self.engine.warm_up()
        with self.store.write() as conn:
            ensure_devices(conn, {d: p for d, p in self.directory.devices.items()})

    async def _tick_loop(self) -> None:
        """Deadlines, presence and housekeeping; a failing tick is logged and the loop goes on."""
        last_presence = last_prune = 0.0
        while True:
            await asyncio.sleep(self.tick_s)
            now = self.clock()
            try:
                await asyncio.to_thread(self.engine.tick, now)
                if now - last_presence >= self.settings.presence.check_every_s:
                    last_presence = now
                    await asyncio.to_thread(self.presence.check, now)
                if now - last_prune >= 3600:
                    last_prune = now
                    await asyncio.to_thread(self.engine.prune_seen, now)
            except Exception:
                log.exception("periodic tick failed; next try in %.1f s", self.tick_s)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self.video is not None:  # before delivery stops: its last incidents still go out
            await asyncio.to_thread(self.video.stop)
        if self.uses_mqtt:
            await asyncio.to_thread(self.listener.stop)
        await self.delivery.stop()
        if self.broker is not None:
            await self.broker.stop()
        self.gc_pauses.uninstall()
        self.store.close()
        log.info("sharpeyes stopped")
