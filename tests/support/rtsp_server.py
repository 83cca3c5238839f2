"""Loopback RTSP server for tests: serves H.264 MP4 files without re-encoding, looping them.

Run it with Debian's ``/usr/bin/python3`` (a virtual environment cannot import ``gi``)::

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount cam1=/path/clip.mp4

It prints ``READY <port>`` on stdout once it listens. Looping is seamless (see ``_Looper``): clients never
see the end of the stream and RTP timestamps keep increasing. ``--no-loop`` gives the plain behaviour
(the stream ends at end of file). ``--shared`` makes all clients of a path share one pipeline.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer
except (ImportError, ValueError) as exc:  # pragma: no cover - depends on the host
    print(
        "GStreamer RTSP server is not available to this interpreter "
        f"({exc}); install the Debian packages python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp "
        "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad",
        file=sys.stderr,
        flush=True,
    )
    sys.exit(3)


def _launch_line(path: str) -> str:
    """No decode, no encode: demux, parse and payload the H.264 elementary stream."""
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'( filesrc location="{location}" ! qtdemux name=demux demux.video_0 ! queue name=q '
        "! h264parse name=parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    """A media factory whose pipelines restart the file at EOS instead of ending the stream."""

    def __init__(self, path: str, loop: bool) -> None:
        super().__init__()
        self._loop = loop
        self.set_launch(_launch_line(path))
        self.connect("media-configure", self._on_configure)

    def _on_configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        if self._loop:
            bin_ = media.get_element()
            _Looper(bin_.get_by_name("demux"), bin_.get_by_name("q").get_static_pad("sink"))


class _Looper:
    """Rewinds the demuxer at EOS while downstream sees one endless stream.

    The EOS, and the flush of the rewinding seek, are dropped at the queue's sink pad, so the payloader and
    the RTSP sinks never see them; the pad's offset grows by one clip duration per loop, so the running time
    (and the RTP timestamps) keep increasing.
    """

    _MASK = Gst.PadProbeType.EVENT_DOWNSTREAM | Gst.PadProbeType.EVENT_FLUSH | Gst.PadProbeType.BUFFER

    def __init__(self, demux: Gst.Element, pad: Gst.Pad) -> None:
        self._demux = demux
        self._end = 0
        self._offset = 0
        self._rewinding = False
        pad.add_probe(self._MASK, self._probe)

    def _probe(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.type & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            if buf.pts != Gst.CLOCK_TIME_NONE:
                dur = buf.duration if buf.duration != Gst.CLOCK_TIME_NONE else 0
                self._end = max(self._end, buf.pts + dur)
            return Gst.PadProbeReturn.OK
        kind = info.get_event().type
        if kind == Gst.EventType.EOS:
            self._offset += self._end
            self._end = 0
            pad.set_offset(self._offset)
            self._rewinding = True
            # Seeking from the streaming thread would deadlock on its stream lock.
            threading.Thread(target=self._rewind, daemon=True).start()
            return Gst.PadProbeReturn.DROP
        if self._rewinding and kind in (Gst.EventType.FLUSH_START, Gst.EventType.FLUSH_STOP):
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def _rewind(self) -> None:
        self._demux.seek(
            1.0, Gst.Format.TIME, Gst.SeekFlags.FLUSH, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--mount", action="append", required=True, metavar="NAME=FILE")
    parser.add_argument("--no-loop", dest="loop", action="store_false")
    parser.add_argument("--shared", action="store_true")
    args = parser.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mount:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            parser.error(f"--mount wants NAME=FILE, got {spec!r}")
        factory = LoopingFactory(path, args.loop)
        factory.set_shared(args.shared)
        mounts.add_factory("/" + name.strip("/"), factory)

    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
