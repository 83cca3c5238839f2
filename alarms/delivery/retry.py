"""Retry schedules. Life-safety deliveries retry within seconds, then keep trying for hours."""

from __future__ import annotations

import random
from dataclasses import dataclass

LIFE_SAFETY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
STANDARD_DELAYS = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    delays: tuple[float, ...]
    max_attempts: int
    jitter: float = 0.2

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Delay before attempt number `attempts + 1`; the last delay repeats; ±jitter spreads a herd."""
        base = self.delays[min(attempts - 1, len(self.delays) - 1)]
        r = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return base * r

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


LIFE_SAFETY = RetryPolicy(LIFE_SAFETY_DELAYS, max_attempts=40)  # about 5 hours
STANDARD = RetryPolicy(STANDARD_DELAYS, max_attempts=12)  # about a day


def policy_for(
    profile: str, life_safety: bool, max_attempts: int | None, delays: tuple[float, ...] | None
) -> RetryPolicy:
    base = LIFE_SAFETY if profile == "life_safety" or (profile == "auto" and life_safety) else STANDARD
    return RetryPolicy(delays or base.delays, max_attempts or base.max_attempts, base.jitter)


def retryable_status(status: int) -> bool:
    """Network errors and timeouts are retried by the caller; of HTTP answers only 429 and 5xx."""
    return status == 429 or status >= 500
