"""paho-mqtt's callbacks shared by our clients: the typed disconnect callback (listener, publisher, shared
listener; each says what a lost connection means to it), and QoS 1 publishing that an event loop can await
until the broker's PUBACK without a thread per message."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


class OnDisconnect:
    """Set ``client.on_disconnect = self._on_disconnect``; implement :meth:`_connection_lost`."""

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None = None,
    ) -> None:
        self._connection_lost(reason_code)

    def _connection_lost(self, reason_code: ReasonCode) -> None:
        """Called on paho's network thread; `reason_code` 0 is a disconnect we asked for."""
        raise NotImplementedError


class MqttUnavailable(ConnectionError):
    """Not connected to the broker, or no PUBACK in time: the delivery worker retries."""


class PubackPublisher:
    """Call :meth:`_init_publisher` with the client (it sets ``on_publish``) and implement
    :meth:`_can_publish`; then ``await publish(topic, payload)`` returns once the broker has the message."""

    client: mqtt.Client

    def _init_publisher(self, client: mqtt.Client) -> None:
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self._pending_lock = threading.Lock()
        self._early_acks: set[int] = set()
        client.on_publish = self._on_publish

    def _can_publish(self) -> bool:
        raise NotImplementedError

    async def publish(self, topic: str, payload: str, wait_s: float = 10.0) -> None:
        """Publish with QoS 1 and return once the broker has acknowledged it."""
        if not self._can_publish():
            raise MqttUnavailable("not connected to the MQTT broker")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        # paho calls on_publish while holding its own message lock, so we must not hold ours while
        # calling publish (lock-order deadlock). A PUBACK that beats the registration is parked.
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise MqttUnavailable(mqtt.error_string(info.rc))
        with self._pending_lock:
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
                fut.set_result(None)
            else:
                self._pending[info.mid] = (loop, fut)
        try:
            await asyncio.wait_for(fut, wait_s)
        except TimeoutError as exc:
            raise MqttUnavailable(f"no PUBACK within {wait_s:.0f} s") from exc
        finally:
            with self._pending_lock:
                self._pending.pop(info.mid, None)

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        _reason_code: ReasonCode | None = None,
        _props: Properties | None = None,
    ) -> None:
        with self._pending_lock:
            entry = self._pending.pop(mid, None)
            if entry is None:
                self._early_acks.add(mid)
                if len(self._early_acks) > 10000:  # acks of publishes nobody waits for
                    self._early_acks.clear()
        if entry is not None:
            loop, fut = entry
            loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    """Complete a publish's future (on its loop) unless it was cancelled or timed out meanwhile."""
    if not fut.done():
        fut.set_result(None)
