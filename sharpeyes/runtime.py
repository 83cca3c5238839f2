"""The local runtime: every part in one process, composed from `sharpeyes.wiring`'s factories. `--role api`
is the same runtime without cameras, with live push across processes and, as configured, presses from
`--role ingest` and deliveries through `--role delivery` (DESIGN.md section 6)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from alarms import roster
from alarms.devices import ensure_devices
from alarms.engine import Change
from dashboard.incident_push import PushHub, incident_events
from dashboard.map_api import map_sites
from dashboard.services import Services
from dashboard.viewers import apply_beat
from jetstream.queued_delivery import QueuedDelivery
from sharpeyes.broker import EmbeddedBroker
from sharpeyes.evidence_wiring import build_evidence, photos_dir, served_clips, snapshot_store
from sharpeyes.gc_pauses import GcPauses, freeze_startup_objects
from sharpeyes.sender_process import ProcessDelivery
from sharpeyes.settings import Settings
from sharpeyes.wiring import (
    build_button_listener,
    build_clips,
    build_core,
    build_delivery,
    build_live_view,
    build_presence,
    build_publisher,
    build_push_relay,
    build_tokens,
    build_video,
)
from video.config import CameraConfig
from video.rearm import rearm_on_silence_end

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiRole:
    """What `--role api` changes: the shards' cameras (listing, scope, pictures), where presses come from
    and where deliveries go."""

    shard_cameras: list[CameraConfig]
    buttons_from_ingest: bool
    queued_delivery: bool

    @classmethod
    def from_settings(cls, settings: Settings, cameras: list[CameraConfig] | None) -> ApiRole:
        cfg = settings.distributed
        return cls(list(cameras or []), cfg.buttons_via == "ingest", cfg.delivery.via == "queue")

    @property
    def uses_mqtt(self) -> bool:
        """Nothing to listen to and nothing to send: no broker connection, so replicas share no client id."""
        return not (self.buttons_from_ingest and self.queued_delivery)


class LocalRuntime:
    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        freeze_gc: bool = False,
        api: ApiRole | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.settings, self.clock, self.tick_s = settings, clock, tick_s
        self.freeze_gc = freeze_gc  # the service process does; tests that build many runtimes do not
        self.registry = registry or CollectorRegistry()
        self.gc_pauses = GcPauses(self.registry)
        core = build_core(settings, self.registry, clock)
        self.store, self.directory, self.metrics, self.engine = (
            core.store,
            core.directory,
            core.metrics,
            core.engine,
        )
        self.presence = build_presence(settings, core, clock)
        self.uses_mqtt = api is None or api.uses_mqtt
        from_ingest = api is not None and api.buttons_from_ingest
        self.listener = build_button_listener(
            settings, env, core, self.presence, self.registry, clock, subscribe_buttons=not from_ingest
        )
        queued = api is not None and api.queued_delivery
        self.publisher = None if queued else build_publisher(settings, env)
        publish = self.publisher.publish if self.publisher is not None else self.listener.publish
        self.delivery = build_delivery(settings, env, core, publish, clock, queued)
        if isinstance(self.delivery, ProcessDelivery):  # the sender process has a connection of its own
            self.publisher = None
        self.hub = PushHub()
        self.relay = None if api is None else build_push_relay(settings, env, self.hub, self.registry)
        self.broker = (
            EmbeddedBroker(settings.mqtt.host, settings.mqtt.port) if settings.mqtt.embedded else None
        )
        self.engine.subscribe_batch(self._on_changes)
        if self.relay is not None:  # other processes' incident push gets this one's changes
            self.engine.subscribe_batch(self.relay.publish_changes)
        self.evidence = build_evidence(settings, env, self.registry)  # `storage.evidence`: folders or S3
        self.clips = None if api else build_clips(settings, core, self.registry, env, self.evidence)
        if self.clips is not None:  # evidence clips: asked for after commit, written on their own thread
            self.engine.subscribe_batch(self.clips.on_changes)
        self.video, view = build_video(
            settings,
            core,
            self.registry,
            env,
            api.shard_cameras if api else None,
            packet_tap=self.clips.tap if self.clips is not None else None,
            evidence=self.evidence,
        )
        shared_clips, clip_link_key = served_clips(settings, self.evidence, env, self.clips)
        if self.video is not None:  # a false alarm's silence ended: its camera's rules see afresh
            self.engine.subscribe_batch(rearm_on_silence_end(self.video))
        self.services = Services(
            store=self.store,
            engine=self.engine,
            delivery=self.delivery,
            hub=self.hub,
            tokens=build_tokens(settings, env),
            registry=self.registry,
            readiness=self._readiness,
            clock=clock,
            auth=settings.auth,
            video=view,
            clips=self.clips,
            live_video=build_live_view(settings, self.video),
            live_config=settings.live_video,
            timezone=settings.locale.timezone,
            map=settings.map,
            map_sites=map_sites(settings.buttons, settings.cameras),
            field=settings.field,
            evidence=self.evidence,
            snapshots=snapshot_store(settings, self.evidence),
            clip_store=shared_clips,
            clip_link_key=clip_link_key,
            photos_dir=photos_dir(settings),
        )
        if self.relay is not None:  # operators on other API processes see who has an incident open here
            self.services.share_presence = self.relay.publish_presence
            self.relay.on_presence = functools.partial(apply_beat, self.services.viewers, self.hub)
        self._ticker: asyncio.Task[None] | None = None

    def _readiness(self) -> dict[str, bool]:
        """Broker connected (when this process uses one); with `--role api`, an API whose page would miss
        other processes' changes, or whose deliveries cannot be queued, is not ready."""
        checks = {"mqtt": self.listener.wait_connected(0)} if self.uses_mqtt else {}
        if self.relay is not None:
            checks["live"] = self.relay.connected.is_set()
        if isinstance(self.delivery, QueuedDelivery | ProcessDelivery):
            checks["deliveries"] = self.delivery.ready.is_set()
        return checks

    def _on_changes(self, changes: list[Change]) -> None:
        """After each commit: outbox rows to the delivery worker, events to live clients, one hop each."""
        self.delivery.submit_threadsafe([item for c in changes for item in c.outbox])
        self.hub.publish_many_threadsafe(incident_events(changes, self.clock()))

    # ----- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.relay is not None:  # connects in the background: a NATS outage must not keep the API down
            await self.relay.start()
        self.hub.bind(asyncio.get_running_loop())
        await asyncio.to_thread(self._prepare_store)
        if self.broker is not None:
            await self.broker.start()
        await self.delivery.start()
        if self.publisher is not None:
            self.publisher.start()
        if self.uses_mqtt:
            await self._start_listener()
        self._ticker = asyncio.create_task(self._tick_loop())
        self.gc_pauses.install()
        if self.freeze_gc:
            freeze_startup_objects()
        if self.video is not None:
            await asyncio.to_thread(self.video.start)  # loads models: seconds, off the event loop
        if self.clips is not None:
            self.clips.start()
        log.info(
            "sharpeyes started: %d grids, %d buttons", len(self.settings.grids), len(self.settings.buttons)
        )

    async def _start_listener(self) -> None:
        self.listener.start()
        if not await asyncio.to_thread(self.listener.wait_connected, 5.0):
            log.warning(
                "MQTT broker %s:%s not reachable yet; retrying in the background",
                self.settings.mqtt.host,
                self.settings.mqtt.port,
            )

    def _prepare_store(self) -> None:
        self.store.migrate()
        self.engine.warm_up()
        with self.store.write() as conn:
            ensure_devices(conn, dict(self.directory.devices))
            roster.seed(conn, self.settings.people, self.settings.units, self.clock())

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
        if self.clips is not None:  # what was received is finished and recorded, before delivery stops
            await asyncio.to_thread(self.clips.stop)
        await asyncio.to_thread(self.evidence.close)  # uploads not done wait in the spool for the next start
        if self.uses_mqtt:
            await asyncio.to_thread(self.listener.stop)
        await self.delivery.stop()
        if self.publisher is not None:
            await asyncio.to_thread(self.publisher.stop)
        if self.broker is not None:
            await self.broker.stop()
        self.gc_pauses.uninstall()
        self.store.close()
        if self.relay is not None:
            await self.relay.stop()
        log.info("sharpeyes stopped")
