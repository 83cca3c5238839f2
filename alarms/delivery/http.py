"""Webhook endpoints and the HTTP side of sending to them: one signed POST per outbox item over pooled
keep-alive connections. Whether and when to try again is the worker's decision; this module only says
what happened."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp

from alarms.config import WebhookConfig
from alarms.delivery.outbox import OutboxItem
from alarms.delivery.retry import RetryPolicy, policy_for, retryable_status
from alarms.delivery.signing import headers, secret_key


@dataclass(frozen=True, slots=True)
class Endpoint:
    config: WebhookConfig
    key: bytes

    @classmethod
    def build(cls, config: WebhookConfig, secret: str) -> Endpoint:
        return cls(config, secret_key(secret))

    def policy(self, life_safety: bool) -> RetryPolicy:
        r = self.config.retry
        return policy_for(r.profile, life_safety, r.max_attempts, tuple(r.delays_s) if r.delays_s else None)


@dataclass(frozen=True, slots=True)
class PostResult:
    """One POST's result: ``error`` None means delivered (a 2xx)."""

    status: int | None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # the receiver's Retry-After on a 429, in seconds


class WebhookClient:
    """Owns the aiohttp session; :meth:`open` on the event loop before the first :meth:`post`."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        # aiohttp: keep-alive connections per endpoint; a fraction of httpx's CPU per request, which is
        # what bounds press → dispatch latency under a burst (benchmarks/README.md).
        connector = aiohttp.TCPConnector(limit=64, limit_per_host=16, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, endpoint: Endpoint, item: OutboxItem) -> PostResult:
        """Send one item, signed; a timeout or a connection error is retryable, like a 5xx."""
        assert self._session is not None, "WebhookClient.open() first"
        body = item.payload.encode()
        status: int | None = None  # kept when the body times out after the status line came
        try:
            async with self._session.post(
                endpoint.config.url,
                data=body,
                headers=headers(endpoint.key, item.msg_id, int(time.time()), body),
                timeout=aiohttp.ClientTimeout(total=endpoint.config.timeout_s),
                allow_redirects=False,
            ) as resp:
                status = resp.status
                await resp.read()  # drain, so the connection goes back to the pool
        except TimeoutError:
            return PostResult(status, "timeout", retryable=True)
        except (aiohttp.ClientError, OSError) as exc:
            return PostResult(status, f"{type(exc).__name__}: {exc}", retryable=True)
        if 200 <= status < 300:
            return PostResult(status)
        retry_after = _retry_after(resp.headers.get("retry-after")) if status == 429 else None
        return PostResult(status, f"HTTP {status}", retryable_status(status), retry_after)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
