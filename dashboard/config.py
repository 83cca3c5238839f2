"""Config for the HTTP side: listen address and API tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Strict

Role = Literal["operator", "supervisor", "admin"]


class HttpConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(65536, ge=1024)


class ApiToken(Strict):
    name: str = Field(min_length=1, max_length=64)
    token_env: str = Field(description="environment variable holding the token")
    role: Role = "operator"
    streets: list[str] | None = Field(None, description="limit to these streets (default: all)")
    grids: list[str] | None = Field(None, description="limit to these grids (default: all)")


class SessionConfig(Strict):
    """Cookie sessions for the operator page; users themselves live in the database (`sharpeyes user`)."""

    cookie_secure: bool | None = Field(
        None, description="Secure cookie flag; default: on when the request came over https"
    )
    ttl_s: float = Field(12 * 3600, gt=0, description="absolute session lifetime (one shift)")
    idle_timeout_s: float = Field(2 * 3600, gt=0, description="sign out after this long without a request")
    max_failures: int = Field(5, ge=1, description="failed sign-ins in a row before the account locks")
    lockout_s: float = Field(900, gt=0, description="how long a locked account stays locked")
    attempts_per_minute: int = Field(20, ge=1, description="sign-in attempts per client address per minute")


class AuthConfig(Strict):
    api_tokens: list[ApiToken] = Field(default_factory=list)
    sessions: SessionConfig = SessionConfig()


class LiveVideoConfig(Strict):
    """Live view in the operator page: WebRTC first, MJPEG or refreshed pictures when it cannot connect."""

    webrtc: bool = Field(True, description="false: the page goes straight to MJPEG")
    mode: Literal["auto", "passthrough", "transcode"] = Field(
        "auto",
        description="auto: the camera's H.264 is sent as-is unless it has B-frames (which browsers' WebRTC "
        "decoders refuse); those cameras are re-encoded once, shared by all their viewers",
    )
    max_viewers_per_camera: int = Field(8, ge=1, le=100, description="WebRTC and MJPEG viewers, each")
    mjpeg_max_fps: float = Field(5.0, gt=0, le=30)
    idle_stop_s: float = Field(
        20.0, ge=0, description="keep a camera's live source this long after its last viewer"
    )
