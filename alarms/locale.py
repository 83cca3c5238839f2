"""One time zone for people (``locale.timezone``, default Asia/Shanghai): the page's clock, the KPIs' day
boundaries and the time stamped on evidence pictures. Storage and the wire stay in UTC (unix seconds,
ISO 8601 ``Z``); only what a person reads is local."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from ingest.config import Strict

DEFAULT_TIMEZONE = "Asia/Shanghai"


class LocaleConfig(Strict):
    timezone: str = Field(
        DEFAULT_TIMEZONE,
        description="IANA time zone for what people read: the page, the KPIs' 'today' and snapshot captions",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The zone by IANA name; ValueError (a config problem) for a name the zone database lacks."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from exc


def day_start(now: float, timezone: str = DEFAULT_TIMEZONE) -> float:
    """Unix seconds of the local midnight that began the day ``now`` is in: "today" for the KPIs."""
    local = datetime.fromtimestamp(now, zone(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def local_time(ts: float, timezone: str = DEFAULT_TIMEZONE) -> str:
    """``2024-05-01 16:30:00 +08:00``: wall time in the zone with its offset (unambiguous on a picture,
    where a zone abbreviation such as CST could mean three zones)."""
    local = datetime.fromtimestamp(ts, zone(timezone))
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S ") + f"{offset[:3]}:{offset[3:]}"
