"""Retry pacing: exponential backoff with jitter, and a limiter for restarting a failing loop.

Jitter spreads the reconnects of many cameras behind one failed switch; the cap keeps a camera that comes back
from waiting long. Both are clock-free (the caller passes ``now``) so they table-test without sleeping.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``initial_s * factor**n``, capped at ``max_s``, each delay multiplied by ``1 ± jitter`` (uniform)."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need 0 < initial_s <= max_s, factor >= 1, 0 <= jitter < 1")

    def next_delay(self) -> float:
        """The delay before the next attempt; counts the attempt."""
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        spread = base * self.jitter
        return min(self.max_s, max(0.0, base + self.rng.uniform(-spread, spread)))

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class RestartLimiter:
    """At most ``max_restarts`` within ``window_s``; :meth:`delay` says how long to hold the next one."""

    max_restarts: int = 5
    window_s: float = 60.0
    _times: deque[float] = field(default_factory=deque, repr=False)

    def delay(self, now: float) -> float:
        """0 if a restart may happen at ``now``, else seconds until one may."""
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) < self.max_restarts:
            return 0.0
        return self._times[0] + self.window_s - now

    def record(self, now: float) -> None:
        self._times.append(now)
