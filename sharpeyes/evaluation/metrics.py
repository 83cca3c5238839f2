"""Pure scoring: alerts against labelled intervals, counts against true counts. No models, no clock.

An *alert* is one rule episode (the first suspected or confirmed observation of it); time is seconds into
the clip at which the alert was raised, processing delay included. Per kind, over all clips:

- an event is *detected* when an alert of its kind falls within [start - early, end + late];
  time to first alert = that alert's time - start (0 when it came early);
- an alert is a true positive when it falls in such a window, ignored inside a ``dont_care`` interval,
  a false alarm otherwise; false alarms per hour are over the clip time that is negative for the kind
  (outside every window and ``dont_care`` interval), counted only on clips with a rule of that kind.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from alarms.observations import ObservationLevel


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    rule: str
    t: float  # seconds into the clip when the episode's first observation was raised
    level: ObservationLevel
    confirmed_t: float | None = None  # when the same episode was confirmed, if it was


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class ClipOutcome:
    """What one clip contributes: its span, its labels (clipped to the span) and its alerts."""

    clip: str
    start: float
    end: float
    kinds_watched: frozenset[str]
    events: tuple[Window, ...]
    dont_care: tuple[Window, ...]
    alerts: tuple[Alert, ...]


@dataclass(slots=True)
class EventScore:
    kind: str
    events: int = 0
    detected: int = 0
    alerts: int = 0
    true_alerts: int = 0
    false_alarms: int = 0
    negative_s: float = 0.0
    ttfa_s: list[float] = field(default_factory=list)
    ttfc_s: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    false_alarm_at: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        hours = self.negative_s / 3600
        return {
            "events": self.events,
            "detected": self.detected,
            "recall": _ratio(self.detected, self.events),
            "alerts": self.alerts,
            "precision": _ratio(self.true_alerts, self.true_alerts + self.false_alarms),
            "false_alarms": self.false_alarms,
            "negative_s": round(self.negative_s, 2),
            "false_alarms_per_h": round(self.false_alarms / hours, 2) if hours > 0 else None,
            "ttfa_median_s": _r(statistics.median(self.ttfa_s)) if self.ttfa_s else None,
            "ttfa_worst_s": _r(max(self.ttfa_s)) if self.ttfa_s else None,
            "ttfc_median_s": _r(statistics.median(self.ttfc_s)) if self.ttfc_s else None,
            "ttfc_worst_s": _r(max(self.ttfc_s)) if self.ttfc_s else None,
            "missed": self.missed,
            "false_alarm_at": self.false_alarm_at,
        }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _r(x: float) -> float:
    return round(x, 3)


def _union_length(spans: Iterable[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(spans):
        if cur_end is None or s > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def score_events(
    outcomes: Sequence[ClipOutcome], kinds: Sequence[str], early_s: float, late_s: float
) -> dict[str, EventScore]:
    scores = {k: EventScore(k) for k in kinds}
    for clip in outcomes:
        for kind in kinds:
            if kind not in clip.kinds_watched:
                continue
            sc = scores[kind]
            windows = [
                (max(clip.start, w.start - early_s), min(clip.end, w.end + late_s))
                for w in clip.events
                if w.kind == kind
            ]
            ignore = [(w.start, w.end) for w in clip.dont_care if w.kind == kind]
            alerts = [a for a in clip.alerts if a.kind == kind]
            for w in (w for w in clip.events if w.kind == kind):
                sc.events += 1
                lo, hi = w.start - early_s, w.end + late_s
                hits = [a for a in alerts if lo <= a.t <= hi]
                if not hits:
                    sc.missed.append(f"{clip.clip}@{w.start:g}s")
                    continue
                sc.detected += 1
                sc.ttfa_s.append(max(0.0, min(a.t for a in hits) - w.start))
                confirmed = [a.confirmed_t for a in hits if a.confirmed_t is not None]
                if confirmed:
                    sc.ttfc_s.append(max(0.0, min(confirmed) - w.start))
            for a in alerts:
                if any(lo <= a.t <= hi for lo, hi in windows):
                    sc.alerts += 1
                    sc.true_alerts += 1
                elif not any(lo <= a.t <= hi for lo, hi in ignore):
                    sc.alerts += 1
                    sc.false_alarms += 1
                    sc.false_alarm_at.append(f"{clip.clip}@{a.t:.1f}s")
            covered = _union_length([*windows, *((max(clip.start, s), min(clip.end, e)) for s, e in ignore)])
            sc.negative_s += max(0.0, (clip.end - clip.start) - covered)
    return scores


def count_errors(pairs: Sequence[tuple[float, float]]) -> dict[str, float | int | None]:
    """(true, estimate) pairs → MAE, RMSE, mean relative error (images with a true count of 0 skipped)."""
    if not pairs:
        return {"n": 0, "mae": None, "rmse": None, "mre": None}
    errors = [est - true for true, est in pairs]
    rel = [abs(est - true) / true for true, est in pairs if true > 0]
    return {
        "n": len(pairs),
        "mae": round(statistics.fmean(abs(e) for e in errors), 2),
        "rmse": round(math.sqrt(statistics.fmean(e * e for e in errors)), 2),
        "mre": round(statistics.fmean(rel), 4) if rel else None,
        "bias": round(statistics.fmean(errors), 2),
    }
