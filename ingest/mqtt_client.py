"""The MQTT listener for buttons: QoS 1, persistent session, manual acknowledgement.

A message is acknowledged to the broker only after the handler has stored it; if storing fails the
message stays unacknowledged and the connection is cycled, so the broker delivers it again."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry, Counter, Gauge

from ingest.button_payload import Reject, parse_event, parse_status
from ingest.config import MqttConfig
from ingest.types import PanicSignal

log = logging.getLogger(__name__)

SignalHandler = Callable[[PanicSignal], str]  # returns an outcome label; raises to refuse the message
StatusHandler = Callable[[str, bool, float], None]
RejectHandler = Callable[[Reject, float], None]


class MqttUnavailable(ConnectionError):
    pass


class LogOnce:
    """Log a repeated problem once per key, so a misbehaving device cannot flood the log."""

    def __init__(self, limit: int = 10000) -> None:
        self._seen: set[tuple[str, ...]] = set()
        self._limit = limit

    def __call__(self, key: tuple[str, ...]) -> bool:
        if key in self._seen:
            return False
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)
        return True


def configure_client(client: mqtt.Client, cfg: MqttConfig, password: str | None) -> None:
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    if cfg.tls.enabled:
        client.tls_set(
            ca_certs=cfg.tls.ca_file,
            certfile=cfg.tls.cert_file,
            keyfile=cfg.tls.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(cfg.tls.insecure)


class ButtonListener:
    def __init__(
        self,
        cfg: MqttConfig,
        password: str | None,
        known: Callable[[str], bool],
        on_signal: SignalHandler,
        on_status: StatusHandler,
        on_reject: RejectHandler,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.known = known
        self.on_signal = on_signal
        self.on_status = on_status
        self.on_reject = on_reject
        self.clock = clock
        self.messages = Counter(
            "sharpeyes_mqtt_messages_total",
            "MQTT messages received, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.connected_gauge = Gauge(
            "sharpeyes_mqtt_connected", "1 while connected to the broker", registry=registry
        )
        self._log_once = LogOnce()
        self._connected = threading.Event()
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self._pending_lock = threading.Lock()
        self._reconnect_timer: threading.Timer | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        configure_client(client, cfg, password)
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self.client = client

    @property
    def prefix(self) -> str:
        return self.cfg.prefix

    # ----- connection ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        if self._reconnect_timer:
            self._reconnect_timer.cancel()
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()
        self.connected_gauge.set(0)

    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _props=None) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.error(
                "MQTT broker %s:%s refused the connection: %s", self.cfg.host, self.cfg.port, reason_code
            )
            return
        subs = [(f"{self.prefix}/buttons/+/event", 1), (f"{self.prefix}/buttons/+/status", 1)]
        client.subscribe(subs)
        self._connected.set()
        self.connected_gauge.set(1)
        log.info(
            "MQTT connected to %s:%s, subscribed to %s", self.cfg.host, self.cfg.port, [t for t, _ in subs]
        )

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props=None) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()
        self.connected_gauge.set(0)
        if reason_code != 0:
            log.warning(
                "MQTT connection to %s:%s lost (%s); reconnecting", self.cfg.host, self.cfg.port, reason_code
            )

    # ----- receiving -------------------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, _userdata, msg: mqtt.MQTTMessage) -> None:  # type: ignore[no-untyped-def]
        now = self.clock()
        try:
            outcome = self._handle(msg.topic, msg.payload, now)
        except Exception as exc:
            # Not stored: leave it unacknowledged; cycling the connection makes the broker resend it.
            self.messages.labels("storage_error").inc()
            if self._log_once(("storage", type(exc).__name__)):
                log.error("could not store MQTT message on %s: %s; it will be redelivered", msg.topic, exc)
            self._schedule_reconnect()
            return
        self.messages.labels(outcome).inc()
        if msg.qos > 0:
            client.ack(msg.mid, msg.qos)

    def _handle(self, topic: str, payload: bytes, now: float) -> str:
        if topic.endswith("/status"):
            status = parse_status(topic, payload, self.prefix)
            if isinstance(status, Reject):
                return self._reject(status, now)
            button_id, online = status
            if not self.known(button_id):
                return self._reject(Reject(topic, button_id, "unknown_button", "not in config"), now)
            self.on_status(button_id, online, now)
            return "presence"
        parsed = parse_event(topic, payload, self.prefix, now, self.cfg.max_payload_bytes)
        if isinstance(parsed, Reject):
            return self._reject(parsed, now)
        if not self.known(parsed.button_id):
            return self._reject(Reject(topic, parsed.button_id, "unknown_button", "not in config"), now)
        return self.on_signal(parsed)

    def _reject(self, reject: Reject, now: float) -> str:
        if self._log_once((reject.reason, reject.device_id or reject.topic)):
            log.warning(
                "rejected MQTT message on %s: %s (%s)", reject.topic[:200], reject.reason, reject.detail
            )
        if reject.device_id is not None:
            self.on_reject(reject, now)
        return reject.reason

    def _schedule_reconnect(self) -> None:
        if self._reconnect_timer is not None and self._reconnect_timer.is_alive():
            return
        self._reconnect_timer = threading.Timer(1.0, self._cycle)
        self._reconnect_timer.daemon = True
        self._reconnect_timer.start()

    def _cycle(self) -> None:
        try:
            self.client.reconnect()
        except Exception as exc:
            log.warning("MQTT reconnect after storage error failed: %s", exc)

    # ----- publishing ------------------------------------------------------------------------------------
    async def publish(self, topic: str, payload: str, wait_s: float = 10.0) -> None:
        """Publish with QoS 1 and return once the broker has acknowledged it."""
        if not self._connected.is_set():
            raise MqttUnavailable("not connected to the MQTT broker")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._pending_lock:
            info = self.client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise MqttUnavailable(mqtt.error_string(info.rc))
            self._pending[info.mid] = (loop, fut)
        try:
            await asyncio.wait_for(fut, wait_s)
        finally:
            with self._pending_lock:
                self._pending.pop(info.mid, None)

    def _on_publish(self, _client, _userdata, mid: int, _reason_code=None, _props=None) -> None:  # type: ignore[no-untyped-def]
        with self._pending_lock:
            entry = self._pending.pop(mid, None)
        if entry is not None:
            loop, fut = entry
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))
