"""The roster's references (issue 15): a person's grids and unit, a unit's grids and the gateway webhook must
exist; each problem is reported with its line, like the other cross-section checks."""

from __future__ import annotations

import pytest

from sharpeyes.settings import ConfigError, parse_settings

ENV = {"HOOK_SECRET": "whsec_c2VjcmV0"}
# Line numbers matter: people[0].grids[1] is on line 10, people[1].unit on 12, units[0].grids[0] on 17.
TEXT = """\
grids:
  - {id: G-001, community: C-1, street: S-1}
webhooks:
  - {name: police, url: "https://dispatch.example/hook", secret_env: HOOK_SECRET}
  - {name: sms, url: "https://sms.example/hook", secret_env: HOOK_SECRET, events: []}
people:
  - id: P-1
    name: 张伟
    role: grid_worker
    grids: [G-001, G-404]
  - {id: P-2, name: 王警官, role: police, grids: [G-001],
     unit: U-nowhere}
units:
  - id: U-1
    name: 东城派出所
    kind: police_station
    grids: [G-405]
field:
  gateway: sms
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "demo.yaml", ENV)
    return str(info.value).splitlines()


def test_unknown_grids_and_units_are_reported_with_their_lines() -> None:
    assert problems(TEXT) == [
        "demo.yaml:10 people[0].grids[1]: unknown grid 'G-404'",
        "demo.yaml:12 people[1].unit: unknown unit 'U-nowhere'",
        "demo.yaml:17 units[0].grids[0]: unknown grid 'G-405'",
    ]


def test_an_unknown_gateway_webhook_is_named() -> None:
    text = TEXT.replace("G-404", "G-001").replace("U-nowhere", "U-1").replace("G-405", "G-001")
    settings = parse_settings(text, "demo.yaml", ENV)
    assert [p.name for p in settings.people] == ["张伟", "王警官"] and settings.field.gateway == "sms"
    assert problems(text.replace("gateway: sms", "gateway: wechat")) == [
        "demo.yaml:19 field.gateway: unknown webhook 'wechat'; known: ['police', 'sms']"
    ]
