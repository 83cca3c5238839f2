"""The MQTT listener for buttons: QoS 1, persistent session, manual acknowledgement.

A message is acknowledged to the broker only after the handler has stored it; if storing fails the
message stays unacknowledged and the connection is cycled, so the broker delivers it again."""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry, Counter, Gauge

from ingest.button_payload import Reject, parse_message
from ingest.config import MqttConfig
from ingest.mqtt_callbacks import OnDisconnect, PubackPublisher
from ingest.types import PanicSignal

log = logging.getLogger(__name__)

SignalHandler = Callable[[list[PanicSignal]], list[str]]  # one outcome label each; raises to refuse all
StatusHandler = Callable[[str, bool, float], None]
RejectHandler = Callable[[Reject, float], None]


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
    """Credentials, TLS and reconnect pacing, the same for every client of ours."""
    client.reconnect_delay_set(min_delay=1, max_delay=cfg.reconnect_max_s)
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


class ButtonListener(OnDisconnect, PubackPublisher):
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
        subscribe_buttons: bool = True,
    ) -> None:
        self.cfg = cfg
        self.known = known
        self.on_signal = on_signal
        self.on_status = on_status
        self.on_reject = on_reject
        self.clock = clock
        self.subscribe_buttons = subscribe_buttons  # False: connect only to publish (buttons_via: ingest)
        self.messages = Counter(
            "sharpeyes_mqtt_messages_total",
            "MQTT messages received, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.connected_gauge = Gauge(
            "sharpeyes_mqtt_connected", "1 while connected to the broker", registry=registry
        )
        self.refused = Counter(
            "sharpeyes_mqtt_connect_refused_total",
            "Connections the broker refused (bad credentials, not authorised, …), by reason",
            ["reason"],
            registry=registry,
        )
        self._refused_last = False
        self._log_once = LogOnce()
        self._connected = threading.Event()
        self._reconnect_timer: threading.Timer | None = None
        self._inbox: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        configure_client(client, cfg, password)
        client.manual_ack_set(True)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._init_publisher(client)
        self.client = client

    @property
    def prefix(self) -> str:
        return self.cfg.prefix

    # ----- connection ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._worker = threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)
        self._worker.start()
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        if self._reconnect_timer:
            self._reconnect_timer.cancel()
        self.client.disconnect()
        self.client.loop_stop()
        if self._worker is not None:
            self._inbox.put(None)
            self._worker.join(10)
        self._connected.clear()
        self.connected_gauge.set(0)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None = None,
    ) -> None:
        if reason_code.is_failure:
            self.refused.labels(str(reason_code)).inc()
            self._refused_last = True
            if self._log_once(("refused", str(reason_code))):  # paho retries: say it once per reason
                log.error(
                    "MQTT broker %s:%s refused the connection: %s", self.cfg.host, self.cfg.port, reason_code
                )
            return
        self._refused_last = False
        subs = [(f"{self.prefix}/buttons/+/event", 1), (f"{self.prefix}/buttons/+/status", 1)]
        if self.subscribe_buttons:
            client.subscribe(subs)
        else:  # --role ingest takes the presses; drop what an earlier run left in this persistent session
            client.unsubscribe([t for t, _ in subs])
            subs = []
        self._connected.set()
        self.connected_gauge.set(1)
        log.info(
            "MQTT connected to %s:%s, subscribed to %s", self.cfg.host, self.cfg.port, [t for t, _ in subs]
        )

    def _connection_lost(self, reason_code: ReasonCode) -> None:
        self._connected.clear()
        self.connected_gauge.set(0)
        if reason_code != 0 and not self._refused_last:  # a refusal was already reported
            log.warning(
                "MQTT connection to %s:%s lost (%s); reconnecting", self.cfg.host, self.cfg.port, reason_code
            )

    # ----- receiving -------------------------------------------------------------------------------------
    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        msg.timestamp = self.clock()  # wall time of receipt travels with the message
        self._inbox.put(msg)

    def _work(self) -> None:
        """Group commit: everything that arrived while the last batch was being stored goes in one
        transaction, then each message is acknowledged to the broker."""
        while True:
            first = self._inbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 500:
                try:
                    nxt = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._inbox.put(None)
                    break
                batch.append(nxt)
            self._process(batch)

    def _process(self, batch: list[mqtt.MQTTMessage]) -> None:
        signals: list[tuple[mqtt.MQTTMessage, PanicSignal]] = []
        done: list[tuple[mqtt.MQTTMessage, str]] = []
        try:
            for msg in batch:
                parsed = self._parse(msg.topic, msg.payload, msg.timestamp)
                if isinstance(parsed, PanicSignal):
                    signals.append((msg, parsed))
                else:
                    done.append((msg, parsed))
            if signals:
                outcomes = self.on_signal([sig for _, sig in signals])
                done.extend((msg, out) for (msg, _), out in zip(signals, outcomes, strict=True))
        except Exception as exc:
            # Not stored: leave them unacknowledged; cycling the connection makes the broker resend them.
            self.messages.labels("storage_error").inc(len(batch))
            if self._log_once(("storage", type(exc).__name__)):
                log.error("could not store %d MQTT messages: %s; they will be redelivered", len(batch), exc)
            self._schedule_reconnect()
            return
        for msg, outcome in done:
            self.messages.labels(outcome).inc()
            if msg.qos > 0:
                self.client.ack(msg.mid, msg.qos)

    def _parse(self, topic: str, payload: bytes | bytearray, now: float) -> PanicSignal | str:
        """A PanicSignal to store, or the outcome label of a message handled here."""
        parsed = parse_message(topic, payload, self.prefix, now, self.cfg.max_payload_bytes, self.known)
        if isinstance(parsed, Reject):
            return self._reject(parsed, now)
        if isinstance(parsed, tuple):
            self.on_status(parsed[0], parsed[1], now)
            return "presence"
        return parsed

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

    # ----- publishing (PubackPublisher) -------------------------------------------------------------------
    def _can_publish(self) -> bool:
        return self._connected.is_set()
