"""Config for places and time (issue 14, items 1 and 8): names for communities and streets, a landmark on
a location, `locale.timezone`; older configs stay valid; the demo gives every button an address, a
landmark and a linked camera, and names its places in Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sharpeyes.settings import ConfigError, load_settings, parse_settings
from sharpeyes.wiring import build_directory

BASE = """\
grids:
  - {id: G-001, name: 网格一, community: C-1, street: S-1}
communities:
  - {id: C-1, name: 人民路社区}
streets:
  - {id: S-1, name: 城关街道}
buttons:
  - {id: B-001, grid: G-001, location: {address: 人民路 12 号, landmark: 便利店门口, lat: 31.2, lon: 121.4}}
locale: {timezone: Asia/Shanghai}
"""
DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_names_landmark_and_zone_reach_the_directory() -> None:
    settings = parse_settings(BASE, "c.yaml", {})
    assert settings.locale.timezone == "Asia/Shanghai"
    place = build_directory(settings).placement("B-001").place  # type: ignore[union-attr]
    assert place["landmark"] == "便利店门口"
    assert (place["community_name"], place["street_name"]) == ("人民路社区", "城关街道")


def test_a_config_without_names_or_locale_is_still_valid() -> None:
    settings = parse_settings("grids:\n  - {id: G-001, community: C-1, street: S-1}\n", "old.yaml", {})
    assert settings.communities == [] and settings.locale.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  - {id: S-1, name: 城关街道}\n",
            "  - {id: S-1, name: 城关街道}\n  - {id: S-1, name: 别名}\n",
            "c.yaml:7 streets[1].id: duplicate id 'S-1'",
        ),
        (
            "timezone: Asia/Shanghai",
            "timezone: Asia/Beijing",
            "c.yaml:9 locale.timezone: unknown time zone 'Asia/Beijing' (an IANA name such as Asia/Shanghai)",
        ),
    ],
)
def test_problems_name_the_line(old: str, new: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(BASE.replace(old, new), "c.yaml", {})
    assert str(info.value).splitlines() == [expected]


def test_every_demo_button_says_where_to_go_and_links_a_camera() -> None:
    settings = load_settings(str(DEMO), {"DEMO_WEBHOOK_SECRET": "x", "SHARPEYES_ADMIN_TOKEN": "y"})
    directory = build_directory(settings)
    cameras = {c.id for c in settings.cameras}
    assert settings.buttons
    for button in settings.buttons:
        assert button.cameras and set(button.cameras) <= cameras, button.id
        place = directory.placement(button.id).place  # type: ignore[union-attr]
        assert place["address"] and place["landmark"] and place["lat"] and place["lon"], button.id
        for key in ("grid_name", "community_name", "street_name"):
            assert HAN.search(place[key]), (button.id, key, place[key])
        assert all(HAN.search(c["name"]) for c in place["cameras"]), button.id
