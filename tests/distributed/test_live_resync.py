"""A relay that lost its NATS connection tells its pages to reload once it is back (`resync`).

Live push between processes is core NATS: changes published while an API process is disconnected never reach
it. A real nats-server is stopped and started again on the same port; the API-side relay reconnects and its
hub gets one `resync` event, which the page answers by reloading its lists (dashboard/static/js/live.js).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from dashboard.incident_push import PushHub
from jetstream.config import DistributedConfig
from jetstream.push_relay import PushRelay
from tests.support.nats_server import NatsServer


def test_reconnected_relay_tells_the_pages_to_reload(nats_server: NatsServer, tmp_path: Path) -> None:
    async def body() -> None:
        hub = PushHub()
        hub.bind(asyncio.get_running_loop())
        sub = hub.subscribe()
        relay = PushRelay(DistributedConfig(nats_url=nats_server.url), hub=hub, name="api")
        await relay.start()
        await asyncio.wait_for(relay.connected.wait(), 10)
        assert sub.queue.empty() and relay.resyncs == 0, "a first connection is no resync"
        await asyncio.to_thread(nats_server.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(nats_server.start)
        event = await asyncio.wait_for(sub.queue.get(), 15)
        assert event["type"] == "resync" and "incident" not in event
        assert relay.resyncs == 1
        await relay.stop()

    asyncio.run(body())
