"""The embedded MQTT broker (amqtt) for the zero-install demo. Production uses mosquitto."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        if host not in LOOPBACK:
            # amqtt here runs without authentication: never expose it beyond this machine.
            raise ValueError(
                f"the embedded MQTT broker only listens on loopback, not {host!r}; use mosquitto"
            )
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        from amqtt.broker import Broker  # lazy: only the demo needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded MQTT broker listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
