"""Config for the MQTT side of ingest: the broker connection and the buttons on street poles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
    max_payload_bytes: int = Field(4096, ge=64)
    shared_group: str | None = Field(None, description="MQTT 5 shared-subscription group for scale-out")


class Location(Strict):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = None


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
