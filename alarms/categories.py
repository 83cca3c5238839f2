"""What each incident category means: its priority, CAP-style urgency/severity, and whether it is
life-safety (latched, never auto-resolved, fastest webhook retries)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    priority: int  # 1 (highest) .. 4
    urgency: str  # CAP: Immediate | Expected | Future | Past | Unknown
    severity: str  # CAP: Extreme | Severe | Moderate | Minor | Unknown
    life_safety: bool
    title_zh: str
    title_en: str
    to_webhooks: bool = True
    # Opened on a suspicion (a camera's first sightings, certainty Likely) before a rule confirms it:
    # endpoints that only take confirmed incidents hear of it at its confirmation.
    graded: bool = False


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("sos", 1, "Immediate", "Extreme", True, "一键报警求助", "SOS button pressed"),
        Category("fire", 1, "Immediate", "Extreme", True, "火情", "Fire", graded=True),
        Category("smoke", 2, "Immediate", "Severe", False, "烟雾", "Smoke", graded=True),
        Category("crowd", 2, "Expected", "Moderate", False, "人员聚集", "Crowding"),
        Category("gathering", 2, "Expected", "Moderate", False, "突发聚集", "Sudden gathering"),
        Category("tamper", 2, "Expected", "Moderate", False, "设备防拆报警", "Device tamper"),
        Category("video_loss", 3, "Expected", "Minor", False, "视频丢失", "Video loss"),
        Category("camera_tamper", 2, "Expected", "Moderate", False, "摄像机画面异常", "Camera tampered"),
        Category("device_offline", 4, "Future", "Minor", False, "设备离线", "Device offline"),
        Category("low_battery", 4, "Future", "Minor", False, "设备电量低", "Low battery"),
        # Raised when police dispatch cannot be reached: for operators, never sent to the webhook that failed.
        Category(
            "dispatch_failure",
            1,
            "Immediate",
            "Severe",
            False,
            "接警平台不可达",
            "Dispatch not reached",
            to_webhooks=False,
        ),
    )
}

SYSTEM_CATEGORIES = frozenset(
    {"video_loss", "device_offline", "low_battery", "dispatch_failure", "camera_tamper"}
)
"""Conditions the system opens and closes by itself when the cause goes away."""


# CAP certainty, least to most certain. Observed is a confirmed incident; camera rules open Likely ones.
CERTAINTIES = ("Unknown", "Unlikely", "Possible", "Likely", "Observed")
CONFIRMED = "Observed"


def certainty_rank(value: str | None) -> int:
    """Position in CERTAINTIES; an unknown value ranks lowest."""
    return CERTAINTIES.index(value) if value in CERTAINTIES else 0


def category(name: str) -> Category:
    return CATEGORIES.get(name) or Category(name, 3, "Expected", "Moderate", False, name, name)
