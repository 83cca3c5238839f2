"""WebRTC live view: SDP offer in, answer out, the camera's own H.264 sent on (no decode, no encode).

One :class:`~dashboard.live_source.PacketSource` per camera feeds every viewer of that camera; a viewer is
one aiortc peer connection with one send-only video track. Peer connections are closed when the viewer
says goodbye, when ICE fails or the browser goes away, on shutdown, and the source stops a while after
its last viewer leaves. aiortc and PyAV are imported on the first offer, not at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.live_source import TIME_BASE, FrameSource, PacketSource, Viewer

log = logging.getLogger(__name__)


class ViewerLimit(Exception):
    """The camera already has its maximum number of live viewers."""


class NoLiveSource(Exception):
    """The camera is unknown to the live-view side (or disabled)."""


def _track_class() -> type:
    """aiortc's MediaStreamTrack, subclassed on first use so importing this module stays cheap."""
    import av
    from aiortc import MediaStreamTrack
    from aiortc.mediastreams import MediaStreamError

    class PacketTrack(MediaStreamTrack):
        """A video track whose frames are already-encoded H.264 packets (aiortc packetises them as-is)."""

        kind = "video"

        def __init__(self, viewer: Viewer) -> None:
            super().__init__()
            self.viewer = viewer

        async def recv(self) -> Any:
            item = await self.viewer.queue.get()
            if item is None or self.readyState != "live":
                self.stop()
                raise MediaStreamError
            pts, key, data = item
            packet = av.Packet(data)
            packet.pts = pts
            packet.time_base = TIME_BASE
            packet.is_keyframe = key
            return packet

    return PacketTrack


@dataclass(slots=True, eq=False)
class Peer:
    id: str
    camera_id: str
    principal: str
    pc: Any
    viewer: Viewer
    created: float = field(default_factory=time.monotonic)
    first_packet_at: float | None = None


class WebRtcHub:
    """Peer connections per camera, with a cap, closed on leave, failure and shutdown."""

    def __init__(
        self,
        sources: Mapping[str, str],
        *,
        transports: Mapping[str, str] | None = None,
        mode: str = "auto",
        frames: FrameSource | None = None,
        max_viewers_per_camera: int = 8,
        idle_stop_s: float = 20.0,
        enabled: bool = True,
    ) -> None:
        self._urls = dict(sources)  # secrets: never logged or returned
        self._transports = dict(transports or {})
        self.max_viewers = max_viewers_per_camera
        self.idle_stop_s = idle_stop_s
        self.enabled = enabled
        self.mode = mode
        self._frames = frames
        self._sources: dict[str, PacketSource] = {}
        self.peers: dict[str, Peer] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._closing = False
        self._track_cls: type | None = None

    def knows(self, camera_id: str) -> bool:
        return camera_id in self._urls

    def viewers(self, camera_id: str) -> int:
        return sum(1 for p in self.peers.values() if p.camera_id == camera_id)

    def source(self, camera_id: str) -> PacketSource:
        src = self._sources.get(camera_id)
        if src is None:
            if camera_id not in self._urls:
                raise NoLiveSource(camera_id)
            src = PacketSource(
                camera_id,
                self._urls[camera_id],
                transport=self._transports.get(camera_id, "tcp"),
                mode=self.mode,
                frames=self._frames,
            )
            self._sources[camera_id] = src
        return src

    async def answer(self, camera_id: str, sdp: str, kind: str, principal: str) -> tuple[str, str, str]:
        """(peer id, answer sdp, answer type) for the browser's offer."""
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        if self._closing:
            raise NoLiveSource(camera_id)
        if self.viewers(camera_id) >= self.max_viewers:
            raise ViewerLimit(camera_id)
        source = self.source(camera_id)
        if self._track_cls is None:
            self._track_cls = _track_class()
        # No STUN or TURN servers: aiortc would otherwise ask a public one; the browser reaches our host
        # candidates (or is learnt as a peer-reflexive candidate when it hides its own behind mDNS).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        timer = self._idle.pop(camera_id, None)
        if timer is not None:
            timer.cancel()
        viewer = source.subscribe()
        peer = Peer(secrets.token_urlsafe(12), camera_id, principal, pc, viewer)
        self.peers[peer.id] = peer
        try:
            transceiver = pc.addTransceiver(self._track_cls(viewer), direction="sendonly")
            _prefer_h264(transceiver)

            @pc.on("connectionstatechange")
            async def on_state() -> None:
                if pc.connectionState in ("failed", "closed"):
                    await self.close(peer.id)

            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self.close(peer.id)
            raise
        log.info("live view %s: camera %s for %s", peer.id, camera_id, principal)
        return peer.id, pc.localDescription.sdp, pc.localDescription.type

    async def close(self, peer_id: str) -> bool:
        peer = self.peers.pop(peer_id, None)
        if peer is None:
            return False
        source = self._sources.get(peer.camera_id)
        if source is not None:
            source.unsubscribe(peer.viewer)
        with contextlib.suppress(Exception):
            await peer.pc.close()
        log.info("live view %s closed (camera %s)", peer_id, peer.camera_id)
        if source is not None and source.viewers == 0 and not self._closing:
            self._schedule_idle_stop(source)
        return True

    def owner(self, peer_id: str) -> Peer | None:
        return self.peers.get(peer_id)

    def _schedule_idle_stop(self, source: PacketSource) -> None:
        loop = asyncio.get_running_loop()

        def stop_if_idle() -> None:
            self._idle.pop(source.camera_id, None)
            if source.viewers == 0:
                loop.run_in_executor(None, source.stop)

        old = self._idle.pop(source.camera_id, None)
        if old is not None:
            old.cancel()
        self._idle[source.camera_id] = loop.call_later(self.idle_stop_s, stop_if_idle)

    async def aclose(self) -> None:
        """Shutdown: every peer connection closed, every demux thread stopped and joined."""
        self._closing = True
        for timer in self._idle.values():
            timer.cancel()
        self._idle.clear()
        peers = list(self.peers)
        for peer_id in peers:
            await self.close(peer_id)
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in self._sources.values()))
        if peers:
            log.info("live video: closed %d peer connections", len(peers))

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "max_viewers_per_camera": self.max_viewers,
            "peers": len(self.peers),
            "sources": {
                cid: {
                    "running": s.running,
                    "viewers": s.viewers,
                    "transcoding": s.transcoding,
                    "packets": s.packets,
                    "last_packet_at": s.last_packet_at,
                    "epoch": s.epoch,
                    "error": s.error,
                }
                for cid, s in self._sources.items()
            },
        }


def _prefer_h264(transceiver: Any) -> None:
    """Offer only H.264 (no VP8 fallback): the packets are H.264 and are never re-encoded."""
    from aiortc import RTCRtpSender

    wanted = ("video/H264", "video/rtx")
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in wanted]
    transceiver.setCodecPreferences(codecs)
