"""Small factories that every way of running sharpeyes composes: `--role all`, `--role api`, the engine and
delivery roles. Each builds one part from settings and the parts it needs, complete: nothing is assigned to
a built object afterwards, so what a process runs can be read from the factory calls.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from alarms.clip_evidence import attach_clip
from alarms.delivery.http import Endpoint
from alarms.delivery.outbox import OutboxItem, Routing
from alarms.delivery.worker import DeliveryWorker, MqttPublish, Settler
from alarms.engine import IncidentEngine, IncidentNotFound
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.presence import PresenceMonitor
from alarms.queries import Scope
from alarms.storage.store import Store
from dashboard.auth import Principal, TokenBook
from dashboard.incident_push import PushHub
from dashboard.services import VideoView
from dashboard.webrtc import WebRtcHub
from ingest.button_payload import Reject
from ingest.mqtt_client import ButtonListener
from ingest.mqtt_publisher import MqttPublisher
from ingest.packet_ring import TapFactory
from jetstream.push_relay import PushRelay
from jetstream.queued_delivery import QueuedDelivery
from sharpeyes.evidence_wiring import clip_store, snapshot_store
from sharpeyes.sender_process import ProcessDelivery
from sharpeyes.settings import Settings
from video.camera_view import ShardedCameraView
from video.clip_recorder import ClipRecorder
from video.config import CameraConfig
from video.evidence_store import EvidenceStorage, FolderStorage
from video.pipeline import VideoPipeline

Clock = Callable[[], float]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Core:
    """The incident side every process with a database has: store, places, metrics and the engine."""

    store: Store
    directory: GridDirectory
    metrics: AlarmMetrics
    engine: IncidentEngine


def build_directory(settings: Settings) -> GridDirectory:
    """Grids and what their communities, streets and cameras are called, plus where each button stands
    and which cameras it links."""
    directory = GridDirectory.build(
        settings.grids, settings.communities, settings.streets, {c.id: c.name for c in settings.cameras}
    )
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


def build_core(settings: Settings, registry: CollectorRegistry, clock: Clock = time.time) -> Core:
    store = Store(settings.storage.url, sqlite_synchronous=settings.storage.sqlite_synchronous)
    directory = build_directory(settings)
    metrics = AlarmMetrics(registry)
    engine = IncidentEngine(
        store,
        directory,
        settings.sla,
        Routing(settings.webhooks, settings.mqtt.prefix),
        metrics,
        clock=clock,
        dedup_window_s=settings.storage.dedup_window_s,
        silences=settings.silences,
    )
    return Core(store, directory, metrics, engine)


def build_presence(settings: Settings, core: Core, clock: Clock) -> PresenceMonitor:
    timeouts = {
        b.id: b.heartbeat_timeout_s or settings.presence.heartbeat_timeout_s for b in settings.buttons
    }
    return PresenceMonitor(core.engine, timeouts, started_at=clock())


def build_button_listener(
    settings: Settings,
    env: Mapping[str, str],
    core: Core,
    presence: PresenceMonitor,
    registry: CollectorRegistry,
    clock: Clock,
    subscribe_buttons: bool = True,
) -> ButtonListener:
    """Presses straight into the engine; without `subscribe_buttons` it connects only to publish (acks,
    incident topics), since `--role ingest` takes the presses."""

    def on_status(device_id: str, online: bool, ts: float) -> None:
        presence.on_status(device_id, online, ts)

    def on_reject(reject: Reject, now: float) -> None:
        if reject.device_id is not None:
            presence.record_reject(reject.device_id, reject.topic, reject.reason, now)

    password = env.get(settings.mqtt.password_env) if settings.mqtt.password_env else None
    return ButtonListener(
        settings.mqtt,
        password,
        known=core.directory.knows,
        on_signal=core.engine.ingest_signals,
        on_status=on_status,
        on_reject=on_reject,
        registry=registry,
        clock=clock,
        subscribe_buttons=subscribe_buttons,
    )


def build_publisher(settings: Settings, env: Mapping[str, str]) -> MqttPublisher:
    """Its own broker connection for what the outbox sends (incident topics, the poles' receipts and
    acks): publishing through the button listener's connection slowed its presses (measured, p50 4 → 17 ms
    with a receipt per press)."""
    password = env.get(settings.mqtt.password_env) if settings.mqtt.password_env else None
    return MqttPublisher(settings.mqtt, password)


def build_endpoints(settings: Settings, env: Mapping[str, str]) -> dict[str, Endpoint]:
    return {w.name: Endpoint.build(w, env.get(w.secret_env, "")) for w in settings.webhooks}


def build_delivery_worker(
    settings: Settings,
    env: Mapping[str, str],
    core: Core,
    mqtt_publish: MqttPublish,
    clock: Clock = time.time,
    sweep_s: float = 1.0,
    stranded_after_s: float = 30.0,
    settler: Settler | None = None,
) -> DeliveryWorker:
    """The sender (webhooks, MQTT notices) with its dead letter raised as an incident of its own."""
    engine = core.engine

    def dead_letter(item: OutboxItem, error: str) -> None:
        engine.dispatch_failed(item.incident_id, item.target, error)

    return DeliveryWorker(
        core.store,
        build_endpoints(settings, env),
        core.metrics,
        mqtt_publish=mqtt_publish,
        on_dead_letter=dead_letter,
        mark_delivered=engine.mark_delivered,
        clock=clock,
        sweep_s=sweep_s,
        stranded_after_s=stranded_after_s,
        settler=settler,
    )


def build_delivery(
    settings: Settings,
    env: Mapping[str, str],
    core: Core,
    mqtt_publish: MqttPublish,
    clock: Clock,
    queued: bool,
) -> DeliveryWorker | QueuedDelivery | ProcessDelivery:
    """In process, in a child process (`delivery.sender: own_process`), or onto the JetStream work queue
    for `--role delivery` (`distributed.delivery.via`)."""
    if queued:
        return QueuedDelivery(settings.distributed, env)
    if settings.delivery.sender == "own_process":
        if settings.storage.url.startswith("sqlite") and ":memory:" in settings.storage.url:
            log.info("SQLite in memory: webhooks and MQTT notices are sent in process")
        else:
            return ProcessDelivery(settings, env, core.engine, core.metrics)
    return build_delivery_worker(settings, env, core, mqtt_publish, clock)


def build_clips(
    settings: Settings,
    core: Core,
    registry: CollectorRegistry,
    env: Mapping[str, str],
    evidence: EvidenceStorage | None = None,
) -> ClipRecorder | None:
    """Evidence clips of this process's cameras (none without cameras, or with `clips.enabled: false`),
    kept in the `clips` area of ``evidence`` (default: the clips folder)."""
    cfg = settings.clips
    if not cfg.enabled or not any(c.enabled for c in settings.cameras):
        return None
    engine = core.engine

    def is_open(incident_id: int) -> bool:
        try:
            return engine.get(incident_id).active
        except IncidentNotFound:
            return False

    secret = env.get(cfg.link_secret_env) if cfg.link_secret_env else None
    if cfg.link_secret_env and not secret:
        log.warning(
            "clips.link_secret_env %s is not set: clip links are signed with a key for this run only",
            cfg.link_secret_env,
        )
    return ClipRecorder(
        cfg,
        clip_store(settings, evidence or FolderStorage()),
        registry,
        attach=functools.partial(attach_clip, engine),
        is_open=is_open,
        link_secret=secret,
    )


def build_video(
    settings: Settings,
    core: Core,
    registry: CollectorRegistry,
    env: Mapping[str, str],
    shard_cameras: list[CameraConfig] | None = None,
    packet_tap: TapFactory | None = None,
    evidence: EvidenceStorage | None = None,
) -> tuple[VideoPipeline | None, VideoView | None]:
    """The camera pipeline when this process runs cameras; otherwise, for an API beside Ray shards, a view
    of the shards' cameras (scope, listing, evidence pictures from the shared storage)."""
    snapshots = snapshot_store(settings, evidence or FolderStorage())
    if settings.cameras:
        pipeline = VideoPipeline(
            settings.cameras,
            settings.detectors,
            settings.video,
            engine=core.engine,
            directory=core.directory,
            snapshots=snapshots,
            registry=registry,
            env=env,
            timezone=settings.locale.timezone,
            packet_tap=packet_tap,
        )
        return pipeline, pipeline
    if shard_cameras:
        return None, ShardedCameraView(shard_cameras, core.directory, snapshots)
    return None, None


def build_push_relay(
    settings: Settings, env: Mapping[str, str], hub: PushHub, registry: CollectorRegistry
) -> PushRelay:
    """`--role api`: this process's incident changes to the others, and theirs into its hub."""
    return PushRelay(settings.distributed, hub=hub, env=env, name="api", registry=registry)


def build_live_view(settings: Settings, video: VideoPipeline | None) -> WebRtcHub | None:
    """WebRTC live view of the enabled cameras; B-frame cameras re-encode the reader's own frames."""
    if video is None:
        return None
    live, cams = settings.live_video, [c for c in settings.cameras if c.enabled]
    return WebRtcHub(
        {c.id: c.url for c in cams},
        transports={c.id: c.transport for c in cams},
        mode=live.mode,
        frames=video.latest_frame,
        max_viewers_per_camera=live.max_viewers_per_camera,
        idle_stop_s=live.idle_stop_s,
        enabled=live.webrtc,
    )
