"""Config for the MQTT side of ingest: the broker connection and the buttons on street poles."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.sources import source_kind


class Strict(BaseModel):
    """Base for every config model: unknown keys are an error, not a silent typo."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttTls(Strict):
    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = Field(False, description="skip hostname verification (test rigs only)")


class MqttConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    embedded: bool = Field(True, description="run an in-process broker (amqtt) on host:port")
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    tls: MqttTls = MqttTls()
    prefix: str = "sharpeyes"
    client_id: str = Field(
        "sharpeyes-engine", description="fixed, so the persistent session survives restarts"
    )
    keepalive_s: int = Field(30, ge=5)
    reconnect_max_s: int = Field(
        1,
        ge=1,
        le=120,
        description="longest wait between reconnect attempts: 1 means back within about a second of the "
        "broker, however long it was away (an attempt against a down broker is one refused TCP connect)",
    )
    max_payload_bytes: int = Field(4096, ge=64)
    shared_group: str | None = Field(None, description="MQTT 5 shared-subscription group for scale-out")


class Location(Strict):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = None
    landmark: str | None = Field(None, description="what people on the spot see, e.g. 地铁站 B 口对面")


class ButtonConfig(Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    grid: str
    cameras: list[str] = Field(default_factory=list, description="linked camera ids (alarm linkage)")
    location: Location | None = None
    heartbeat_timeout_s: float | None = Field(
        None, gt=0, description="overrides presence.heartbeat_timeout_s"
    )


class PresenceConfig(Strict):
    heartbeat_timeout_s: float = Field(600.0, gt=0)
    check_every_s: float = Field(5.0, gt=0)


def _check_url(value: str | None) -> str | None:
    if value is not None:
        source_kind(value)  # ValueError names the scheme, never the URL (it may hold a password)
    return value


class StreamConfig(Strict):
    """The stream part of a camera: where its video comes from and how its reader behaves. The video
    layer's camera config extends it, so ingest reads its own fields and nothing is copied."""

    url: str = Field(min_length=1, repr=False, description="rtsp://, http(s):// MJPEG, file:// or a path")
    detect_url: str | None = Field(None, repr=False, description="low-resolution sub-stream for detection")
    main_keyframes_only: bool = Field(
        True,
        description="with detect_url: decode only the main stream's keyframes (cheap); false decodes every "
        "frame, so snapshots show the full-resolution picture of the analysed moment",
    )
    transport: Literal["tcp", "udp"] = "tcp"
    decoder: Literal["auto", "pyav", "opencv"] = "auto"
    max_frame_age_s: float = Field(1.0, gt=0)
    stall_s: float = Field(10.0, gt=0, description="no frame for this long restarts the reader")
    open_timeout_s: float = Field(10.0, gt=0)
    down_after_s: float = Field(30.0, ge=0, description="not online for this long raises video_loss")
    up_after_s: float = Field(0.0, ge=0, description="online for this long clears video_loss")
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)

    _url = field_validator("url", "detect_url")(_check_url)

    def stream_fields(self) -> dict[str, Any]:
        """This model's own fields (not a subclass's), as keyword arguments for the reader's spec."""
        return {name: getattr(self, name) for name in StreamConfig.model_fields}
