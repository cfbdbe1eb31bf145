"""Rate limits for Kubernetes Events (pure): one per (job, reason) per window, and a global rate."""

from __future__ import annotations


class EventLimiter:
    def __init__(self, per_key_s: float = 10.0, per_second: float = 5.0, burst: int = 20) -> None:
        self.per_key_s, self.per_second, self.burst = per_key_s, per_second, burst
        self.last: dict[tuple[str, str], float] = {}
        self.tokens = float(burst)
        self.stamp = 0.0
        self.dropped = 0

    def allow(self, job: str, reason: str, now: float) -> bool:
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.stamp) * self.per_second)
        self.stamp = now
        key = (job, reason)
        if now - self.last.get(key, -1e18) < self.per_key_s or self.tokens < 1:
            self.dropped += 1
            return False
        self.last[key] = now
        self.tokens -= 1
        return True
