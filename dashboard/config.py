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


class AuthConfig(Strict):
    api_tokens: list[ApiToken] = Field(default_factory=list)
