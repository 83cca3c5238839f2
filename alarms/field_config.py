"""Config of the field loop (issue 15): the people and units who go out, their shifts, how they are told,
and how long they may take to accept and to arrive. Seeded into the database at start (alarms/roster.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ingest.config import Strict

PersonRole = Literal["grid_worker", "police", "community", "firefighter", "urban_management"]
UnitKind = Literal["police_station", "fire_station", "urban_management", "community"]
Channel = Literal["gateway", "mqtt"]


_CHANNELS: tuple[Channel, ...] = ("gateway", "mqtt")
ID_PATTERN = r"^[A-Za-z0-9_.-]+$"


class Shift(Strict):
    """A duty shift: on these weekdays (0 = Monday) from start to end local time; end before start runs
    past midnight."""

    days: list[int] = Field(default_factory=lambda: list(range(7)))
    start: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field("24:00", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")

    @model_validator(mode="after")
    def _weekdays(self) -> Shift:
        if not self.days or any(d < 0 or d > 6 for d in self.days):
            raise ValueError("days: weekdays 0 (Monday) to 6 (Sunday)")
        return self


class PersonFields(Strict):
    """A person as an admin edits them on the page (the id is the address)."""

    name: str = Field(min_length=1, max_length=128)
    role: PersonRole
    unit: str | None = Field(None, description="id of the unit the person belongs to")
    phone: str | None = Field(None, max_length=32)
    grids: list[str] = Field(default_factory=list, description="grids the person covers")
    shifts: list[Shift] = Field(default_factory=lambda: [Shift()], description="default: always on duty")
    username: str | None = Field(
        None, max_length=64, description="sign-in name of the person's `field` account"
    )
    channels: list[Channel] = Field(default_factory=lambda: list(_CHANNELS))


class PersonConfig(PersonFields):
    id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)


class UnitFields(Strict):
    name: str = Field(min_length=1, max_length=128)
    kind: UnitKind
    phone: str | None = Field(None, max_length=32)
    grids: list[str] = Field(default_factory=list, description="grids the unit covers")


class UnitConfig(UnitFields):
    id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)


class FieldDeadline(Strict):
    accept_s: float = Field(gt=0)
    arrive_s: float = Field(gt=0)


DEFAULT_FIELD_DEADLINES: dict[str, FieldDeadline] = {
    "sos": FieldDeadline(accept_s=120, arrive_s=600),
    "fire": FieldDeadline(accept_s=60, arrive_s=600),
}

TEMPLATE_ZH = "【锐眼】{category}：{place}，请于{accept_by}前接单，{arrive_by}前到场。{link}"
TEMPLATE_EN = "[Sharp Eyes] {category} at {place}: accept by {accept_by}, arrive by {arrive_by}. {link}"


class FieldConfig(Strict):
    gateway: str | None = Field(
        None,
        description="name of the webhook (in `webhooks:`, usually with `events: []`) that relays notices to "
        "people by SMS/WeChat; signed like every webhook",
    )
    template_zh: str = TEMPLATE_ZH
    template_en: str = TEMPLATE_EN
    page_url: str = Field("/field", description="the phone page's address, for the link in a notice")
    default: FieldDeadline = FieldDeadline(accept_s=300, arrive_s=1800)
    deadlines: dict[str, FieldDeadline] = Field(default_factory=lambda: dict(DEFAULT_FIELD_DEADLINES))
    photo_max_bytes: int = Field(10 * 1024 * 1024, gt=0, le=40 * 1024 * 1024)
    photos_dir: str | None = Field(None, description="default: `field-photos` beside the snapshots")

    def for_category(self, category: str) -> FieldDeadline:
        return self.deadlines.get(category) or self.default
