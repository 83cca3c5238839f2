"""Field photos as evidence: checked by content (magic bytes, then a full decode), never by name; the GPS
position in EXIF kept as data while the served file is re-encoded without any metadata; a thumbnail beside
it. Files go to the `photos` area of the evidence storage (the photos folder beside the snapshots, or
``<prefix>photos/`` in S3), one folder per incident; a refused upload writes nothing, so what was saved
before stays as it was. HEIC (iPhones' default) is decoded by pillow-heif and served as JPEG like the
rest."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from video.evidence_store import EvidenceStore, FolderStore, StoredObject

register_heif_opener()  # Image.open reads HEIC/HEIF from here on

THUMB_PX = 320
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")


class PhotoRefused(ValueError):
    """``code`` is what the phone page translates: photo_type, photo_too_large, photo_corrupt."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff(data: bytes) -> str | None:
    """The image type by its first bytes: jpeg, png, heic, or None."""
    if data.startswith(_JPEG):
        return "jpeg"
    if data.startswith(_PNG):
        return "png"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "heic"
    return None


def _boxes_whole(data: bytes) -> bool:
    """Whether a HEIC's top-level ISO boxes add up to the file: libheif decodes a file cut inside its last
    box without complaint, so a truncated upload is caught here, by its own length fields."""
    offset, end = 0, len(data)
    while offset < end:
        if end - offset < 8:
            return False
        size = int.from_bytes(data[offset : offset + 4], "big")
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if end - offset < 16:
                return False
            size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        elif size == 0:  # the last box runs to the end of the file
            return True
        if size < header or offset + size > end:
            return False
        offset += size
    return True


def _gps(image: Image.Image) -> dict[str, float] | None:
    """Latitude and longitude from EXIF's GPS block, in degrees, or None."""
    try:
        gps = image.getexif().get_ifd(0x8825)
    except Exception:
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None

    def degrees(dms: Any, ref: Any) -> float:
        d, m, s = (float(x) for x in dms)
        value = d + m / 60 + s / 3600
        return -value if ref in ("S", "W", b"S", b"W") else value

    try:
        return {"lat": round(degrees(gps[2], gps.get(1)), 7), "lon": round(degrees(gps[4], gps.get(3)), 7)}
    except (TypeError, ValueError, ZeroDivisionError):
        return None


@dataclass(frozen=True, slots=True)
class Checked:
    media_type: str
    width: int
    height: int
    location: dict[str, float] | None
    clean: bytes  # re-encoded, without EXIF
    thumb: bytes


def check(data: bytes, max_bytes: int) -> Checked:
    """Validate and clean one upload, or PhotoRefused."""
    if len(data) > max_bytes:
        raise PhotoRefused("photo_too_large", f"photo larger than {max_bytes} bytes")
    kind = sniff(data)
    if kind is None:
        raise PhotoRefused("photo_type", "not a JPEG, PNG or HEIC picture")
    if kind == "heic" and not _boxes_whole(data):
        raise PhotoRefused("photo_corrupt", "the picture is incomplete (truncated HEIC)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # structure
        image = Image.open(io.BytesIO(data))
        image.load()  # every pixel: a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, RuntimeError) as exc:
        raise PhotoRefused("photo_corrupt", f"the picture cannot be read: {exc}") from None
    location = _gps(image)
    upright = ImageOps.exif_transpose(image)
    clean = _encode(upright)  # served as JPEG whatever came in: one media type, no metadata
    thumb = upright.copy()
    thumb.thumbnail((THUMB_PX, THUMB_PX))
    return Checked(
        f"image/{kind}",
        upright.width,
        upright.height,
        location,
        clean,
        _encode(thumb),
    )


def _encode(image: Image.Image) -> bytes:
    """No exif= argument: nothing of the original's metadata is written."""
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


class PhotoStore:
    """Objects ``<incident id>/<random>.jpg`` (and ``-thumb.jpg``) in the `photos` area of the evidence
    storage; names are random, so nothing in a name comes from a user."""

    def __init__(self, root: str | Path | EvidenceStore) -> None:
        self.store = root if isinstance(root, EvidenceStore) else FolderStore(root, "photos")

    def save(self, incident_id: int, checked: Checked) -> tuple[str, str]:
        """Both files whole or not at all (never waits on the network: S3 uploads from the spool);
        OSError when the storage cannot keep them."""
        stem = uuid.uuid4().hex
        name, thumb = f"{stem}.jpg", f"{stem}-thumb.jpg"
        for filename, blob in ((name, checked.clean), (thumb, checked.thumb)):
            self.store.put(f"{incident_id}/{filename}", blob)
        return name, thumb

    @staticmethod
    def _key(incident_id: int, filename: str) -> str | None:
        if "/" in filename or filename.startswith(".") or not _NAME.match(filename):
            return None
        return f"{incident_id}/{filename}"

    def find(self, incident_id: int, filename: str) -> StoredObject | None:
        """The photo (a name from the database), or None; EvidenceUnavailable when the store cannot answer."""
        key = self._key(incident_id, filename)
        return None if key is None else self.store.find(key)

    def path(self, incident_id: int, filename: str) -> Path | None:
        """The photo as a local file, where it is one (folder storage; S3 until uploaded)."""
        key = self._key(incident_id, filename)
        return None if key is None else self.store.local_file(key)
