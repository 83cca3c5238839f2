"""What a camera URL points at: live RTSP, live HTTP MJPEG, or a file replayed as a camera."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import unquote, urlsplit


class SourceKind(StrEnum):
    RTSP = "rtsp"
    HTTP = "http"
    FILE = "file"


def source_kind(url: str) -> SourceKind:
    """``rtsp(s)://`` → RTSP, ``http(s)://`` → HTTP (MJPEG), ``file://`` or a plain path → FILE."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in ("rtsp", "rtsps", "rtspt"):
        return SourceKind.RTSP
    if scheme in ("http", "https"):
        return SourceKind.HTTP
    if scheme in ("", "file"):
        return SourceKind.FILE
    raise ValueError(
        f"unsupported camera URL scheme {scheme!r} (use rtsp://, http(s):// MJPEG, file:// or a path)"
    )


def open_target(url: str) -> str:
    """What to hand the decoder: the local path for files, the URL otherwise."""
    if url.lower().startswith("file://"):
        parts = urlsplit(url)
        return (
            unquote(parts.netloc + parts.path)
            if parts.netloc not in ("", "localhost")
            else unquote(parts.path)
        )
    return url


def is_live(kind: SourceKind) -> bool:
    """Live sources pace themselves; files are paced by the reader at their frame rate and looped."""
    return kind is not SourceKind.FILE
