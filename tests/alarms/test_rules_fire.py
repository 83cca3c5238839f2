"""Fire and smoke rules driven by scripted frames and explicit `now` values (one frame per second)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from alarms.observations import Observation, ObservationLevel
from alarms.rules import FlameConfig, FlameRule
from detectors.types import DetectionResult, Detections
from ingest.types import Frame

S, C, X = ObservationLevel.SUSPECTED, ObservationLevel.CONFIRMED, ObservationLevel.CLEARED
IMAGE = np.zeros((100, 100, 3), np.uint8)  # 10 000 px, so min_area_frac 0.01 means a 10×10 box
NAMES = ("person", "fire", "smoke")
# Script letters: F = big box of the rule's class, G = bigger, f = too small, l = low score, p = person.
BOXES: dict[str, tuple[str | None, float, float]] = {
    "F": (None, 0.9, 20),
    "G": (None, 0.8, 30),
    "f": (None, 0.9, 5),
    "l": (None, 0.2, 20),
    "p": ("person", 0.9, 40),
    ".": ("", 0.0, 0),
}
BASE: dict[str, Any] = dict(confirm_k=3, confirm_n=5, min_area_frac=0.01, clear_after_s=5.0, cooldown_s=10.0)


def result(
    t: float, letter: str, kind: str = "fire", x0: float = 0.0, cam: str = "CAM-01"
) -> DetectionResult:
    cls, score, side = BOXES[letter]
    frame = Frame(cam, int(t * 10), t - 0.1, int(t * 1e9), IMAGE)
    if cls == "":
        return DetectionResult(frame, Detections.empty(NAMES), "test", 1.0)
    dets = Detections(
        xyxy=np.array([[x0, 0, x0 + side, side]], np.float32),
        scores=np.array([score], np.float32),
        class_ids=np.array([NAMES.index(cls or kind)]),
        class_names=NAMES,
    )
    return DetectionResult(frame, dets, "test", 1.0)


def run(script: str, kind: str = "fire", t0: float = 1000.0, **cfg: Any) -> list[Observation]:
    config = FlameConfig(kind=kind, emit_cleared=kind == "smoke", **{**BASE, **cfg})
    rule = FlameRule("CAM-01", "G-001", config)
    state, out = rule.initial(), []
    for i, letter in enumerate(script):
        state, obs = rule.step(state, result(t0 + i, letter, kind), t0 + i)
        out += obs
    return out


def brief(obs: list[Observation], t0: float = 1000.0) -> list[tuple[int, str]]:
    return [(round(o.ts - t0), o.level.value) for o in obs]


@pytest.mark.parametrize(
    ("script", "cfg", "expected"),
    [
        ("FFF", {}, [(0, S), (2, C)]),
        ("FF", {}, [(0, S)]),
        ("FF.F", {}, [(0, S), (3, C)]),
        ("F.F.F", {}, [(0, S), (4, C)]),  # 3 of the last 5: the boundary
        ("F.F..F", {}, [(0, S)]),  # only 2 of the last 5
        ("F...F.F", {}, [(0, S)]),  # the first hit has left the window
        ("FFF", {"confirm_k": 1, "confirm_n": 1}, [(0, C)]),  # confirmed supersedes suspected
        ("F.F", {"suspect_hits": 2}, [(2, S)]),
        ("F.F.F", {"suspect_hits": 2}, [(2, S), (4, C)]),
        ("fff", {}, [(0, S)]),  # seen, but below min area: never confirmed
        ("ffFFF", {}, [(0, S), (4, C)]),
        ("fff", {"min_area_frac": 0.0}, [(0, S), (2, C)]),
        ("FFF", {"min_area_frac": 0.0, "min_area_px": 401}, [(0, S)]),
        ("FFF", {"min_area_frac": 0.0, "min_area_px": 400}, [(0, S), (2, C)]),
        ("lll", {}, []),  # below sensitivity
        ("lll", {"min_score": 0.1}, [(0, S), (2, C)]),
        ("ppp", {}, []),  # wrong class
        ("FFF", {"growth": 1.5}, [(0, S)]),  # static box: no growth
        ("FFG", {"growth": 1.5}, [(0, S), (2, C)]),
        ("GFF", {"growth": 1.5}, [(0, S)]),  # shrinking
        ("FFFFFFFFFFFFFFFFFFFF", {}, [(0, S), (2, C)]),  # persistent: no repeats
        ("FFF.....FFF", {}, [(0, S), (2, C)]),  # back inside the cooldown: same episode
        ("FFF.........FFF", {}, [(0, S), (2, C), (12, S), (14, C)]),  # absent ≥5 s and 10 s cooled: re-armed
        ("FFF.FFF.FFF.FFF", {}, [(0, S), (2, C)]),  # gaps shorter than clear_after_s
        ("F.........", {}, [(0, S)]),  # fire is latched: no cleared even for a suspicion
    ],
)
def test_fire_script(script: str, cfg: dict[str, Any], expected: list[tuple[int, str]]) -> None:
    obs = run(script, "fire", **cfg)
    assert brief(obs) == expected
    assert all(o.kind == "fire" and o.level != X for o in obs)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("FFF", [(0, S), (2, C)]),
        ("FFF.........", [(0, S), (2, C)]),  # absent 5 s but only 9 s since the confirmation
        ("FFF..........", [(0, S), (2, C), (12, X)]),
        ("F.........", [(0, S)]),
        ("F..........", [(0, S), (10, X)]),  # a suspicion alone is cleared too
        ("FFF.........FFF", [(0, S), (2, C), (12, X), (12, S), (14, C)]),
        ("fff", [(0, S)]),  # small smoke: suspected only
    ],
)
def test_smoke_script(script: str, expected: list[tuple[int, str]]) -> None:
    assert brief(run(script, "smoke")) == expected


def test_smoke_ignores_fire() -> None:
    rule = FlameRule("CAM-01", "G-001", FlameConfig(kind="smoke", emit_cleared=True, **BASE))
    state, out = rule.initial(), []
    for i in range(5):
        state, obs = rule.step(state, result(i, "F", "fire"), i)
        out += obs
    assert out == []


def test_time_alone_ends_a_smoke_episode() -> None:
    """With the motion gate skipping frames, `None` steps still let the episode end."""
    rule = FlameRule("CAM-01", "G-001", FlameConfig(kind="smoke", emit_cleared=True, **BASE))
    state = rule.initial()
    for i in range(3):
        state, _ = rule.step(state, result(i, "F", "smoke"), i)
    state, obs = rule.step(state, None, 11.9)
    assert obs == []
    state, obs = rule.step(state, None, 12.0)
    assert [o.level for o in obs] == [X]
    assert state == rule.initial()


def test_late_sighting_after_a_long_gap_starts_a_new_episode() -> None:
    """No frames analysed in between: the end of the old episode is judged when the next frame comes."""
    rule = FlameRule("CAM-01", "G-001", FlameConfig(kind="fire", **BASE))
    state, obs = rule.step(rule.initial(), result(0, "F"), 0)
    state, obs2 = rule.step(state, result(100, "F"), 100)
    assert [o.level for o in obs + obs2] == [S, S]
    assert obs[0].event_id != obs2[0].event_id


@pytest.mark.parametrize(("window_s", "expected"), [(None, [S, C]), (25.0, [S, C]), (15.0, [S])])
def test_window_s_drops_stale_frames(window_s: float | None, expected: list[str]) -> None:
    cfg = FlameConfig(kind="fire", confirm_k=3, confirm_n=5, clear_after_s=60, window_s=window_s)
    rule = FlameRule("CAM-01", "G-001", cfg)
    state, out = rule.initial(), []
    for t in (0, 10, 20):
        state, obs = rule.step(state, result(t, "F"), t)
        out += obs
    assert [o.level for o in out] == expected


@pytest.mark.parametrize(("x0", "expected"), [(0.0, []), (60.0, [S, C])])
def test_zone_mask_filters_boxes(x0: float, expected: list[str]) -> None:
    def right_half(d: Detections) -> np.ndarray:
        return d.xyxy[:, 0] >= 50

    rule = FlameRule("CAM-01", "G-001", FlameConfig(kind="fire", **BASE), zone_mask=right_half)
    state, out = rule.initial(), []
    for t in range(3):
        state, obs = rule.step(state, result(t, "F", x0=x0), t)
        out += obs
    assert [o.level for o in out] == expected


def test_class_names_match_case_insensitively_and_by_alias() -> None:
    names = ("Flame",)
    frame = Frame("CAM-01", 0, 0.0, 0, IMAGE)
    dets = Detections(
        np.array([[0, 0, 20, 20]], np.float32), np.array([0.9], np.float32), np.array([0]), names
    )
    rule = FlameRule("CAM-01", "G-001", FlameConfig(kind="fire", classes=("fire", "flame"), **BASE))
    _, obs = rule.step(rule.initial(), DetectionResult(frame, dets, "user-yolo", 1.0), 0.0)
    assert [o.level for o in obs] == [S]


def test_confirmed_evidence() -> None:
    obs = run("FFG")
    confirmed = obs[-1]
    assert confirmed.level == C and confirmed.grid_id == "G-001" and confirmed.source == "CAM-01"
    assert confirmed.rule == "fire" and confirmed.confidence == pytest.approx(0.8)
    ev = confirmed.evidence
    assert ev["box"] == [0.0, 0.0, 30.0, 30.0]
    assert ev["area_px"] == 900.0 and ev["area_frac"] == pytest.approx(0.09)
    assert ev["class"] == "fire" and ev["captured_at"] == pytest.approx(1001.9)
    assert ev["hits"] == 3 and ev["of"] == 3 and ev["episode_start"] == 1000.0


def test_event_ids_are_deterministic() -> None:
    """A restarted worker replaying the same frames produces the same ids; levels and episodes differ."""
    script = "FFF.........FFF"
    a, b = run(script), run(script)
    assert [o.event_id for o in a] == [o.event_id for o in b]
    assert len({o.event_id for o in a}) == 4
    assert a[0].event_id == "cam:CAM-01:fire:fire:suspected:1000000"
    assert a[1].event_id == "cam:CAM-01:fire:fire:confirmed:1000000"
    assert a[2].event_id.endswith(":suspected:1012000")


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "fire", "emit_cleared": True},
        {"confirm_k": 6, "confirm_n": 5},
        {"confirm_k": 0},
        {"suspect_hits": 0},
        {"growth": 0.0},
        {"growth": 1.5, "confirm_k": 1},
        {"min_score": -0.1},
    ],
)
def test_flame_config_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        replace(FlameConfig(), **bad)
