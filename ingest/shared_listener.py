"""`--role ingest`'s MQTT side: an MQTT 5 shared subscription whose messages are acked only once stored.

Several ingest processes subscribe to `$share/<group>/<prefix>/buttons/+/event|status`; the broker hands each
message to one of them. Each message is parsed exactly as the local listener parses it (`parse_message`),
handed to `publish` (JetStream in the ingest role) and acknowledged to the broker (PUBACK) only after that
returned. While `publish` fails the batch is retried with backoff and nothing is acked, so the presses stay
with the broker (in flight or queued in this client's session) until they are stored.

Mosquitto 2.0 keeps a killed member's unacked messages only in that member's session (docs/SCALING.md): hence
a stable client id, `clean_start=False` and a session expiry above zero, so a restarted process with the same
id gets them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.button_message import ButtonMessage
from ingest.button_payload import Reject, parse_message
from ingest.config import MqttConfig
from ingest.mqtt_callbacks import OnDisconnect
from ingest.mqtt_client import LogOnce, configure_client

log = logging.getLogger(__name__)

Publish = Callable[[ButtonMessage], Awaitable[bool]]  # True stored, False a repeat; raises when not stored


class SharedButtonListener(OnDisconnect):
    """One MQTT 5 client in the shared group; an asyncio worker publishes and acks in arrival order."""

    def __init__(
        self,
        cfg: MqttConfig,
        password: str | None,
        *,
        client_id: str,
        group: str,
        session_expiry_s: int,
        receive_maximum: int,
        known: Callable[[str], bool],
        publish: Publish,
        registry: CollectorRegistry,
        retry_max_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.group = group
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.receive_maximum = receive_maximum
        self.known = known
        self.publish = publish
        self.retry_max_s = retry_max_s
        self.clock = clock
        self.messages = Counter(
            "sharpeyes_mqtt_messages_total",
            "MQTT messages received, by outcome (published, duplicate, presence or a reject reason)",
            ["outcome"],
            registry=registry,
        )
        self.publish_failures = Counter(
            "sharpeyes_ingest_publish_failures_total",
            "JetStream publishes that failed (the MQTT messages stay unacked and are retried)",
            registry=registry,
        )
        self.ack_latency = Histogram(
            "sharpeyes_ingest_ack_seconds",
            "MQTT receipt → JetStream stored → PUBACK sent",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.connected_gauge = Gauge(
            "sharpeyes_mqtt_connected", "1 while connected to the broker", registry=registry
        )
        self.acked = 0
        self.connected = asyncio.Event()
        self._log_once = LogOnce()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: asyncio.Queue[mqtt.MQTTMessage] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        configure_client(client, cfg, password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    @property
    def topics(self) -> list[str]:
        p = self.cfg.prefix
        return [f"$share/{self.group}/{p}/buttons/+/event", f"$share/{self.group}/{p}/buttons/+/status"]

    # ----- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._worker = asyncio.create_task(self._work())
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect_async(
            self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s, clean_start=False, properties=props
        )
        self.client.loop_start()

    async def stop(self) -> None:
        """Cancels the worker at once: a batch not yet acked stays in this client id's broker session and
        comes back when it reconnects (JetStream drops the part it already stored as a repeat)."""
        self._stop.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await asyncio.to_thread(self._disconnect)
        self.connected.clear()
        self.connected_gauge.set(0)

    def _disconnect(self) -> None:
        self.client.disconnect()  # a normal DISCONNECT: the session (and its unacked messages) is kept
        self.client.loop_stop()

    # ----- paho's thread ---------------------------------------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None = None,
    ) -> None:
        if reason_code.is_failure:
            if self._log_once(("refused", str(reason_code))):
                log.error(
                    "MQTT broker %s:%s refused %s: %s",
                    self.cfg.host,
                    self.cfg.port,
                    self.client_id,
                    reason_code,
                )
            return
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.topics])
        log.info(
            "MQTT 5 %s connected to %s:%s (session present: %s)",
            self.client_id,
            self.cfg.host,
            self.cfg.port,
            flags.session_present,
        )

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason_codes: list[ReasonCode],
        _props: Properties | None = None,
    ) -> None:
        """Connected for readiness only once the broker granted the shared subscription (SUBACK)."""
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:  # e.g. a broker without shared subscriptions, or an ACL
            if self._log_once(("subscribe", *refused)):
                log.error(
                    "MQTT broker refused %s the subscription %s: %s", self.client_id, self.topics, refused
                )
            return
        self._set_connected(True)
        log.info("MQTT 5 %s subscribed to %s", self.client_id, self.topics)

    def _connection_lost(self, reason_code: ReasonCode) -> None:
        self._set_connected(False)
        if reason_code != 0 and not self._stop.is_set():
            log.warning("MQTT %s lost its connection (%s); reconnecting", self.client_id, reason_code)

    def _set_connected(self, up: bool) -> None:
        self.connected_gauge.set(1 if up else 0)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.connected.set if up else self.connected.clear)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        msg.timestamp = self.clock()  # wall time of receipt travels with the message
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._inbox.put_nowait, msg)

    # ----- the worker ------------------------------------------------------------------------------------
    async def _work(self) -> None:
        """Batches whatever arrived while the last batch was being stored; acks in arrival order."""
        while True:
            batch = [await self._inbox.get()]
            while len(batch) < 500 and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            try:
                await self._process(batch)
            except Exception:  # loop boundary: a bug must not leave the batch unacked until a restart
                self.messages.labels("error").inc(len(batch))
                log.exception(
                    "%d MQTT messages not handled; reconnecting so the broker resends them", len(batch)
                )
                await asyncio.to_thread(self._cycle)

    def _cycle(self) -> None:
        """A new connection with the same session: the broker resends every unacked message."""
        try:
            self.client.reconnect()
        except Exception as exc:  # paho's loop keeps retrying on its own
            log.warning("MQTT reconnect of %s failed: %s", self.client_id, exc)

    async def _process(self, batch: list[mqtt.MQTTMessage]) -> None:
        outcomes: list[str] = []
        pending: list[tuple[int, ButtonMessage]] = []
        for i, msg in enumerate(batch):
            parsed = self._parse(msg)
            if isinstance(parsed, str):
                outcomes.append(parsed)
                continue
            # a signal's outcome is JetStream's answer; presence and device rejects keep their own label
            outcomes.append({"signal": "", "status": "presence"}.get(parsed.op, parsed.reason))
            pending.append((i, parsed))
        delay = 0.1
        while pending:
            results = await asyncio.gather(*(self.publish(b) for _, b in pending), return_exceptions=True)
            failed: list[tuple[int, ButtonMessage]] = []
            for (i, bus), res in zip(pending, results, strict=True):
                if isinstance(res, BaseException):
                    if isinstance(res, asyncio.CancelledError):
                        raise res
                    failed.append((i, bus))
                    self.publish_failures.inc()
                    if self._log_once(("publish", type(res).__name__)):
                        log.error(
                            "JetStream did not store %s (%r); retrying, MQTT message unacked", bus.msg_id, res
                        )
                elif outcomes[i] == "":
                    outcomes[i] = "published" if res else "duplicate"
            pending = failed
            if pending:
                await asyncio.sleep(delay)  # cancelled by stop(): the batch stays unacked with the broker
                delay = min(delay * 2, self.retry_max_s)
        now = self.clock()
        for msg, outcome in zip(batch, outcomes, strict=True):
            self.messages.labels(outcome).inc()
            if msg.qos > 0:
                self.client.ack(msg.mid, msg.qos)
                self.acked += 1
            self.ack_latency.observe(max(0.0, now - msg.timestamp))

    def _parse(self, msg: mqtt.MQTTMessage) -> ButtonMessage | str:
        """A message to store (a reject naming a device is stored for the device list, as the local path
        does), or the outcome label of a reject that names none."""
        now = msg.timestamp
        parsed = parse_message(
            msg.topic, msg.payload, self.cfg.prefix, now, self.cfg.max_payload_bytes, self.known
        )
        if isinstance(parsed, Reject):
            if self._log_once((parsed.reason, parsed.device_id or parsed.topic)):
                log.warning(
                    "rejected MQTT message on %s: %s (%s)", parsed.topic[:200], parsed.reason, parsed.detail
                )
            if parsed.device_id is None:
                return parsed.reason
            return ButtonMessage(
                "reject", parsed.device_id, now, topic=parsed.topic[:200], reason=parsed.reason
            )
        if isinstance(parsed, tuple):
            return ButtonMessage("status", parsed[0], now, online=parsed[1])
        return ButtonMessage("signal", parsed.button_id, now, signal=parsed)
