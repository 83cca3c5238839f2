"""paho-mqtt's v2 disconnect callback, typed once for every client of ours (listener, publisher, shared
listener); each says what a lost connection means to it."""

from __future__ import annotations

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
