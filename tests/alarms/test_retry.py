"""Retry schedules: delays with jitter, exhaustion, profiles, and which HTTP answers are retried."""

from __future__ import annotations

import random

import pytest

from alarms.delivery.retry import LIFE_SAFETY, STANDARD, RetryPolicy, policy_for, retryable_status


class FixedRng(random.Random):
    """uniform(a, b) returns a, b or the midpoint, so the bounds are tested exactly."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def uniform(self, a: float, b: float) -> float:
        return {"low": a, "high": b, "mid": (a + b) / 2}[self.where]


@pytest.mark.parametrize(
    ("policy", "attempts", "base"),
    [
        (LIFE_SAFETY, 1, 1.0),
        (LIFE_SAFETY, 2, 2.0),
        (LIFE_SAFETY, 3, 4.0),
        (LIFE_SAFETY, 5, 15.0),
        (LIFE_SAFETY, 10, 600.0),
        (LIFE_SAFETY, 11, 600.0),  # the last delay repeats
        (LIFE_SAFETY, 39, 600.0),
        (STANDARD, 1, 5.0),
        (STANDARD, 2, 30.0),
        (STANDARD, 6, 3600.0),
        (STANDARD, 12, 3600.0),
        (RetryPolicy((0.2,), 5), 1, 0.2),
        (RetryPolicy((0.2,), 5), 4, 0.2),
    ],
)
@pytest.mark.parametrize(("where", "factor"), [("low", 0.8), ("mid", 1.0), ("high", 1.2)])
def test_delay_and_jitter_bounds(
    policy: RetryPolicy, attempts: int, base: float, where: str, factor: float
) -> None:
    assert policy.delay(attempts, FixedRng(where)) == pytest.approx(base * factor)


@pytest.mark.parametrize("attempts", [1, 2, 4, 10, 30])
def test_jitter_spreads_within_bounds(attempts: int) -> None:
    rng = random.Random(1234)
    base = LIFE_SAFETY.delays[min(attempts - 1, len(LIFE_SAFETY.delays) - 1)]
    delays = [LIFE_SAFETY.delay(attempts, rng) for _ in range(500)]
    assert all(0.8 * base <= d <= 1.2 * base for d in delays)
    assert len(set(delays)) > 400  # actually spread, not one value
    assert min(delays) < 0.85 * base and max(delays) > 1.15 * base


def test_life_safety_retries_within_seconds() -> None:
    first_three = sum(LIFE_SAFETY.delays[:3]) * 1.2
    assert first_three <= 10.0
    assert sum(STANDARD.delays[:1]) >= 5.0


@pytest.mark.parametrize(
    ("policy", "attempts", "exhausted"),
    [
        (LIFE_SAFETY, 1, False),
        (LIFE_SAFETY, 39, False),
        (LIFE_SAFETY, 40, True),
        (LIFE_SAFETY, 41, True),
        (STANDARD, 11, False),
        (STANDARD, 12, True),
        (RetryPolicy((1.0,), 1), 1, True),
        (RetryPolicy((1.0,), 3), 2, False),
        (RetryPolicy((1.0,), 3), 3, True),
    ],
)
def test_exhausted(policy: RetryPolicy, attempts: int, exhausted: bool) -> None:
    assert policy.exhausted(attempts) is exhausted


def test_life_safety_keeps_trying_for_hours() -> None:
    total = sum(LIFE_SAFETY.delay(n, FixedRng("low")) for n in range(1, LIFE_SAFETY.max_attempts))
    assert total >= 3 * 3600


@pytest.mark.parametrize(
    ("profile", "life_safety", "max_attempts", "delays", "expected_delays", "expected_max"),
    [
        ("auto", True, None, None, LIFE_SAFETY.delays, LIFE_SAFETY.max_attempts),
        ("auto", False, None, None, STANDARD.delays, STANDARD.max_attempts),
        ("life_safety", False, None, None, LIFE_SAFETY.delays, LIFE_SAFETY.max_attempts),
        ("standard", True, None, None, STANDARD.delays, STANDARD.max_attempts),
        ("auto", True, 3, None, LIFE_SAFETY.delays, 3),
        ("standard", False, None, (0.2, 0.4), (0.2, 0.4), STANDARD.max_attempts),
        ("auto", True, 7, (0.5,), (0.5,), 7),
    ],
)
def test_policy_for(profile, life_safety, max_attempts, delays, expected_delays, expected_max) -> None:  # type: ignore[no-untyped-def]
    p = policy_for(profile, life_safety, max_attempts, delays)
    assert (p.delays, p.max_attempts, p.jitter) == (expected_delays, expected_max, 0.2)


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (410, False),
        (413, False),
        (422, False),
        (301, False),
    ],
)
def test_retryable_status(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry
