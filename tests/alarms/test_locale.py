"""One time zone for people (issue 14, item 8): "today" begins at local midnight of the configured zone,
and pictures carry wall time with its offset, whatever zone the server runs in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alarms.locale import LocaleConfig, day_start, local_time


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("now", "zone", "midnight"),
    [
        # 01:00 in Beijing on 1 May is 17:00 UTC on 30 April: Beijing's day began at 16:00 UTC.
        (utc(2024, 4, 30, 17, 0), "Asia/Shanghai", utc(2024, 4, 30, 16, 0)),
        (utc(2024, 4, 30, 17, 0), "UTC", utc(2024, 4, 30, 0, 0)),
        # 15:59 UTC is still 30 April in Beijing (23:59).
        (utc(2024, 4, 30, 15, 59), "Asia/Shanghai", utc(2024, 4, 29, 16, 0)),
        # A day with a DST change: 10 March 2024 in New York began at 05:00 UTC (EST, -5).
        (utc(2024, 3, 10, 20, 0), "America/New_York", utc(2024, 3, 10, 5, 0)),
    ],
)
def test_day_start_is_local_midnight(now: float, zone: str, midnight: float) -> None:
    assert day_start(now, zone) == midnight


def test_local_time_is_wall_time_with_its_offset() -> None:
    ts = utc(2024, 5, 1, 8, 30, 15)
    assert local_time(ts, "Asia/Shanghai") == "2024-05-01 16:30:15 +08:00"
    assert local_time(ts, "UTC") == "2024-05-01 08:30:15 +00:00"


def test_the_zone_defaults_to_beijing_and_unknown_zones_are_refused() -> None:
    assert LocaleConfig().timezone == "Asia/Shanghai"
    with pytest.raises(ValidationError, match="unknown time zone"):
        LocaleConfig(timezone="Mars/Olympus_Mons")
