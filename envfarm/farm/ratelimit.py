"""A thread-safe token bucket: the controller's own API rate (``--qps``, ``--burst``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from envfarm.errors import ConfigError


class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved up; ``acquire`` waits for one."""

    def __init__(self, qps: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ConfigError(f"--qps must be > 0 and --burst >= 1 (got qps={qps}, burst={burst})")
        self.qps, self.burst = float(qps), int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now

    def available(self) -> int:
        """Whole tokens there now (the planner's write budget)."""
        with self._lock:
            self._refill()
            return int(self._tokens)

    def try_acquire(self) -> float:
        """Take a token: 0.0 when one was there, else the seconds to wait before trying again."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.qps

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        while (wait := self.try_acquire()) > 0:
            sleep(wait)
