"""`distributed:` settings, read only when `runtime: ray` or a `--role` other than `all` is run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ingest.button_message import BUTTON_SUBJECT_ROOT
from ingest.config import Strict
from jetstream.observations import SUBJECT_ROOT


class IngestRoleConfig(Strict):
    """`--role ingest`: MQTT 5 shared subscription → JetStream. Stable client ids because mosquitto keeps a
    dead member's unacked and queued presses in its session until the same id reconnects (SCALING.md)."""

    client_id: str = Field(
        "sharpeyes-ingest-0",
        description="this process's MQTT client id; SHARPEYES_INGEST_ID overrides it (StatefulSet pod name)",
    )
    session_expiry_s: int = Field(
        3600, ge=1, le=2**32 - 2, description="the broker keeps an absent member's session this long"
    )
    receive_maximum: int = Field(100, ge=1, le=65535, description="unacked presses in flight per process")
    stream: str = Field("SHARPEYES_BUTTONS", description="JetStream stream carrying button messages")
    consumer: str = Field("engine-buttons", description="durable consumer shared by every engine process")
    retry_max_s: float = Field(5.0, gt=0, description="backoff ceiling while JetStream does not ack")


class DeliveryRoleConfig(Strict):
    """`--role delivery`: webhooks and MQTT notices from a JetStream work queue (jetstream.delivery_queue)."""

    via: Literal["queue", "api"] = Field(
        "queue",
        description="queue: engines and APIs publish outbox rows to the work queue and --role delivery sends "
        "them; api: each --role api process drains the outbox itself (no delivery role deployed)",
    )
    stream: str = Field("SHARPEYES_DELIVERIES", description="JetStream work-queue stream of outbox rows")
    consumer: str = Field("delivery", description="durable consumers <name>-life and <name>-std")
    ack_wait_s: float = Field(
        10.0,
        gt=0,
        description="a killed delivery process's messages come back after this (raised to the "
        "longest webhook timeout + 5 s)",
    )
    max_deliver: int = Field(
        100, ge=2, description="JetStream's cap; endpoints' retry policies end sooner (dead letter)"
    )
    backoff_s: list[float] | None = Field(
        None, description="redelivery delays after ack timeouts (JetStream backoff); none: ack_wait each time"
    )
    stranded_after_s: float = Field(
        30.0, gt=0, description="a pending outbox row this overdue lost its message and is published again"
    )


class DistributedConfig(Strict):
    """Fixed shard count: a camera's shard comes from a stable hash, so it only moves when this changes."""

    shards: int = Field(8, ge=1, le=4096, description="fixed number of camera shards (Ray actors)")
    ray_address: str = Field("auto", description="Ray cluster to join: auto, ray://host:10001 or host:6379")
    namespace: str = Field("sharpeyes", description="Ray namespace of the named, detached shard actors")
    shard_num_cpus: float = Field(1.0, ge=0, description="CPUs reserved per shard actor")
    shard_num_gpus: float = Field(
        0.25, ge=0, le=1, description="GPU fraction per shard, requested only when the cluster has GPUs"
    )
    reconcile_every_s: float = Field(5.0, gt=0, description="how often the reconciler checks every shard")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma-separated")
    nats_credentials_env: str | None = Field(None, description="env var naming a NATS .creds file")
    stream: str = Field("SHARPEYES_OBS", description="JetStream stream carrying observations")
    stream_replicas: int = Field(1, ge=1, le=5, description="3 in production (a NATS cluster of 3)")
    duplicate_window_s: float = Field(
        600.0, gt=0, description="JetStream drops a repeated Nats-Msg-Id (= event_id) inside this window"
    )
    consumer: str = Field("engine", description="durable consumer shared by every engine process")
    ack_wait_s: float = Field(30.0, gt=0, description="unacked observations are redelivered after this")
    publish_timeout_s: float = Field(5.0, gt=0, description="a shard waits this long for JetStream's ack")
    spool_dir: str | None = Field(
        "var/spool",
        description="a shard keeps observations JetStream did not take in <dir>/<shard>.jsonl on its node "
        "(replayed in order when it is back, and after a restart there); null: in memory only",
    )
    spool_max_messages: int = Field(
        100_000, ge=1, description="spooled observations per shard; beyond this new ones are dropped, counted"
    )
    buttons_via: Literal["api", "ingest"] = Field(
        "api",
        description="api: each --role api process listens to buttons itself; ingest: --role ingest "
        "processes do (MQTT 5 shared subscription → JetStream → engine) and the API does not subscribe",
    )
    ingest: IngestRoleConfig = IngestRoleConfig()
    delivery: DeliveryRoleConfig = DeliveryRoleConfig()
    metrics_listen: str | None = Field(
        None,
        pattern=r"^[^:\s]*:[0-9]{1,5}$",
        description="HOST:PORT where --role engine|delivery|ingest serve Prometheus /metrics (the API role "
        "serves it on its HTTP port); none: not served",
    )
    live_subject: str = Field(
        "sharpeyes.live.incidents",
        pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$",
        description="core NATS subject carrying committed incident changes to every API process",
    )

    @field_validator("live_subject")
    @classmethod
    def _outside_observations(cls, value: str) -> str:
        """Under sharpeyes.obs.> the observation stream would store live events; engines reject them."""
        for root in (SUBJECT_ROOT, BUTTON_SUBJECT_ROOT):
            if value == root or value.startswith(root + "."):
                raise ValueError(f"must not be under {root}.> (a JetStream stream's subjects)")
        return value
