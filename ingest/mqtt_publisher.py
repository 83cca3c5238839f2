"""A publish-only MQTT client for processes that send but never listen (`--role delivery`).

It must not subscribe to button topics: a delivery process that took presses would split them away from the
ingest path. QoS 1, and a publish returns only after the broker's PUBACK, so the delivery worker records an
MQTT delivery as done only when the broker holds it.
"""

from __future__ import annotations

import logging
import os

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest.config import MqttConfig
from ingest.mqtt_callbacks import OnDisconnect, PubackPublisher
from ingest.mqtt_client import configure_client

log = logging.getLogger(__name__)


class MqttPublisher(OnDisconnect, PubackPublisher):
    def __init__(self, cfg: MqttConfig, password: str | None, client_id: str | None = None) -> None:
        self.cfg = cfg
        # Its own id: sharing the listener's would make the broker drop one of the two connections.
        cid = client_id or f"{cfg.client_id}-publisher-{os.getpid()}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=True)
        configure_client(client, cfg, password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._init_publisher(client)
        self.client = client
        self._down_logged = False

    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def connected(self) -> bool:
        return bool(self.client.is_connected())

    def _can_publish(self) -> bool:
        return bool(self.client.is_connected())

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None = None,
    ) -> None:
        if reason_code.is_failure:
            if not self._down_logged:
                self._down_logged = True
                log.error(
                    "MQTT broker %s:%s refused the publisher: %s", self.cfg.host, self.cfg.port, reason_code
                )
            return
        self._down_logged = False
        log.info("MQTT publisher connected to %s:%s", self.cfg.host, self.cfg.port)

    def _connection_lost(self, reason_code: ReasonCode) -> None:
        if reason_code != 0 and not self._down_logged:
            self._down_logged = True
            log.warning(
                "MQTT publisher lost %s:%s (%s); reconnecting", self.cfg.host, self.cfg.port, reason_code
            )
