"""Fire and smoke: `suspected` on first sightings, `confirmed` on k of the last n analysed frames.

An episode starts at the first sighting and ends only when nothing has been seen for `clear_after_s` AND
`cooldown_s` has passed since the episode's last observation, so a flickering detection never repeats
alerts. Fire is latched for life-safety (never `cleared`); smoke may emit `cleared` when its episode ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from alarms.observations import Observation, ObservationLevel
from alarms.rules.common import ZoneMask, apply_zone, event_id
from detectors.types import DetectionResult, Detections


@dataclass(frozen=True, slots=True)
class FlameConfig:
    """Thresholds for one fire or smoke rule. Areas: a box qualifies if ≥ both `min_area_px` and
    `min_area_frac` of the frame. `growth`: the largest later qualifying box in the window must reach
    `growth` × the first one's area (flames spread; a static red sign does not)."""

    kind: str = "fire"
    rule: str = ""
    classes: tuple[str, ...] = ()
    min_score: float = 0.4
    suspect_hits: int = 1
    confirm_k: int = 3
    confirm_n: int = 5
    min_area_frac: float = 0.0005
    min_area_px: float = 0.0
    growth: float | None = None
    window_s: float | None = None
    cooldown_s: float = 60.0
    clear_after_s: float = 30.0
    emit_cleared: bool = False

    def __post_init__(self) -> None:
        if self.kind == "fire" and self.emit_cleared:
            raise ValueError("fire is latched for life-safety: emit_cleared must be False")
        if not 1 <= self.confirm_k <= self.confirm_n:
            raise ValueError(f"need 1 <= confirm_k <= confirm_n, got {self.confirm_k} of {self.confirm_n}")
        if self.suspect_hits < 1:
            raise ValueError("suspect_hits must be >= 1")
        if self.growth is not None and (self.growth <= 0 or self.confirm_k < 2):
            raise ValueError("growth must be > 0 and needs confirm_k >= 2 (it compares two frames)")
        if min(self.min_score, self.min_area_frac, self.min_area_px, self.cooldown_s, self.clear_after_s) < 0:
            raise ValueError("thresholds and times must be >= 0")

    @property
    def rule_id(self) -> str:
        return self.rule or self.kind

    @property
    def class_set(self) -> frozenset[str]:
        """Class names that count, case-insensitive, so a user's model saying `Fire` or `flame` fits."""
        return frozenset(c.lower() for c in (self.classes or (self.kind,)))


@dataclass(frozen=True, slots=True)
class BoxEvidence:
    """The best box of one frame, kept for the observation's evidence."""

    box: tuple[float, float, float, float]
    score: float
    area_px: float
    area_frac: float | None
    class_name: str
    captured_at: float
    frame_seq: int
    n_boxes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "box": list(self.box),
            "score": self.score,
            "area_px": self.area_px,
            "area_frac": self.area_frac,
            "class": self.class_name,
            "captured_at": self.captured_at,
            "frame_seq": self.frame_seq,
            "n_boxes": self.n_boxes,
        }


@dataclass(frozen=True, slots=True)
class FlameSample:
    """One analysed frame, reduced: was the class seen (score, zone) and did a box also pass min area."""

    ts: float
    sighted: bool
    qualified: bool
    area: float = 0.0  # largest qualifying box, for growth
    best: BoxEvidence | None = None


@dataclass(frozen=True, slots=True)
class FlameState:
    window: tuple[FlameSample, ...] = ()
    episode_start: float | None = None
    sightings: int = 0
    last_seen: float | None = None
    last_emitted: float | None = None
    suspected: bool = False
    confirmed: bool = False


def _best(
    dets: Detections, areas: np.ndarray, frame_area: float | None, result: DetectionResult
) -> BoxEvidence:
    i = int(np.argmax(dets.scores))
    x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
    area = float(areas[i])
    return BoxEvidence(
        box=(x1, y1, x2, y2),
        score=float(dets.scores[i]),
        area_px=area,
        area_frac=area / frame_area if frame_area else None,
        class_name=dets.name_of(int(dets.class_ids[i])),
        captured_at=result.frame.captured_at,
        frame_seq=result.frame.seq,
        n_boxes=len(dets),
    )


@dataclass(frozen=True, slots=True)
class FlameRule:
    """Fire or smoke at one camera (optionally one zone). Pure: `step` takes `now`, never reads a clock."""

    source: str
    grid_id: str
    config: FlameConfig = field(default_factory=FlameConfig)
    zone_mask: ZoneMask | None = None

    @property
    def rule_id(self) -> str:
        return self.config.rule_id

    def initial(self) -> FlameState:
        return FlameState()

    def measure(self, result: DetectionResult) -> DetectionResult:
        """Fire rules need the boxes themselves, so the input is the result."""
        return result

    def sample(self, result: DetectionResult, now: float) -> FlameSample:
        """Filter by class, score and zone; then by min area for the `qualified` flag."""
        cfg = self.config
        dets = result.detections
        if len(dets):
            wanted = cfg.class_set
            names = np.array([dets.name_of(int(c)).lower() in wanted for c in dets.class_ids], dtype=bool)
            dets = dets[names & (dets.scores >= cfg.min_score)]
        dets = apply_zone(dets, self.zone_mask)
        if len(dets) == 0:
            return FlameSample(ts=now, sighted=False, qualified=False)
        image = result.frame.image
        frame_area = float(image.shape[0] * image.shape[1]) if image.ndim >= 2 else None
        areas = dets.areas
        ok = areas >= cfg.min_area_px
        if frame_area:
            ok &= areas / frame_area >= cfg.min_area_frac
        if ok.any():
            q = dets[ok]
            return FlameSample(
                now, True, True, float(areas[ok].max()), _best(q, areas[ok], frame_area, result)
            )
        return FlameSample(now, True, False, 0.0, _best(dets, areas, frame_area, result))

    def _confirmed(self, window: tuple[FlameSample, ...]) -> bool:
        q = [s for s in window if s.qualified]
        if len(q) < self.config.confirm_k:
            return False
        if self.config.growth is None:
            return True
        return max(s.area for s in q[1:]) >= self.config.growth * q[0].area

    def _obs(self, level: ObservationLevel, state: FlameState, now: float, **evidence: Any) -> Observation:
        cfg = self.config
        assert state.episode_start is not None
        best: BoxEvidence | None = evidence.pop("best", None)
        ev = {**(best.as_dict() if best else {}), "episode_start": state.episode_start, **evidence}
        return Observation(
            event_id=event_id(self.source, cfg.rule_id, cfg.kind, level, state.episode_start),
            source=self.source,
            kind=cfg.kind,
            grid_id=self.grid_id,
            ts=now,
            level=level,
            confidence=best.score if best else None,
            rule=cfg.rule_id,
            evidence=ev,
        )

    def _ended(self, state: FlameState, now: float) -> bool:
        """Absent for `clear_after_s` and `cooldown_s` past the last observation: a new episode may start."""
        if state.episode_start is None or state.last_seen is None:
            return False
        absent = now - state.last_seen >= self.config.clear_after_s
        cooled = state.last_emitted is None or now - state.last_emitted >= self.config.cooldown_s
        return absent and cooled

    def step(
        self, state: FlameState, result: DetectionResult | None, now: float
    ) -> tuple[FlameState, list[Observation]]:
        """Advance by one analysed frame (`result`) or by time alone (`None`, lets an episode end)."""
        cfg = self.config
        out: list[Observation] = []
        if self._ended(state, now):
            if cfg.emit_cleared and (state.suspected or state.confirmed):
                out.append(self._obs(ObservationLevel.CLEARED, state, now, last_seen=state.last_seen))
            state = FlameState()  # fresh window too: a new episode needs fresh evidence

        window = state.window
        s: FlameSample | None = None
        if result is not None:
            s = self.sample(result, now)
            window = (*window, s)[-cfg.confirm_n :]
        if cfg.window_s is not None:
            window = tuple(w for w in window if w.ts >= now - cfg.window_s)
        state = replace(state, window=window)
        if s is None or not s.sighted:
            return state, out

        if state.episode_start is None:
            state = replace(state, episode_start=now)
        state = replace(state, sightings=state.sightings + 1, last_seen=now)
        if state.confirmed:
            return state, out
        if self._confirmed(window):
            best = next(w.best for w in reversed(window) if w.qualified)
            hits = sum(w.qualified for w in window)
            state = replace(state, confirmed=True, last_emitted=now)
            out.append(
                self._obs(ObservationLevel.CONFIRMED, state, now, best=best, hits=hits, of=len(window))
            )
        elif not state.suspected and state.sightings >= cfg.suspect_hits:
            state = replace(state, suspected=True, last_emitted=now)
            out.append(self._obs(ObservationLevel.SUSPECTED, state, now, best=s.best, hits=state.sightings))
        return state, out
