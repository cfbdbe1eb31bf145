"""Overload and faults switchable at run time, and counters of API requests."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from envfarm.errors import ConfigError

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass
class Faults:
    """What kubesim does wrong on purpose. Every field may be changed while it runs."""

    max_qps: float = 0.0  # requests/s before 429 (0: unlimited), like API priority and fairness
    burst: int = 0  # tokens the bucket holds (0: max_qps)
    retry_after_s: int = 1  # the Retry-After header of a 429
    error_rate: float = 0.0  # share of non-watch requests answered 500
    latency_s: float = 0.0  # added before every answer
    watch_drop_after: int = 0  # events a watch stream sends before its connection is dropped (0: never)
    watch_drop_rate: float = 0.0  # chance per event batch that a watch connection is dropped

    def update(self, values: dict[str, Any]) -> None:
        """Set fields from a dict (the /kubesim/faults endpoint), rejecting unknown names."""
        known = {f.name: f.type for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"unknown fault {name!r}; known: {sorted(known)}")
            setattr(self, name, type(getattr(self, name))(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RateLimiter:
    """A token bucket: ``allow()`` is False when the request rate is past ``Faults.max_qps``."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self._rate = -1.0

    def allow(self) -> bool:
        rate = self._faults.max_qps
        if rate <= 0:
            return True
        capacity = float(self._faults.burst or rate)
        now = time.monotonic()
        if rate != self._rate:
            self._rate, self._tokens = rate, capacity
        self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def should_fail(rate: float) -> bool:
    return rate > 0 and random.random() < rate


class Counters:
    """API requests per (verb, resource, code), as the apiserver_request_total metric counts them."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()

    def add(self, verb: str, resource: str, code: int) -> None:
        self.requests[(verb, resource, code)] += 1

    def total(self, verbs: frozenset[str] | None = None, resource: str | None = None) -> int:
        return sum(
            n
            for (verb, res, _), n in self.requests.items()
            if (verbs is None or verb in verbs) and (resource is None or res == resource)
        )

    def writes(self, resource: str | None = None) -> int:
        """Create, update, patch and delete requests (any status code)."""
        return self.total(WRITE_VERBS, resource)

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {"verb": v, "resource": r, "code": c, "count": n}
            for (v, r, c), n in sorted(self.requests.items())
        ]

    def prometheus(self) -> str:
        lines = ["# TYPE apiserver_request_total counter"]
        for (verb, res, code), n in sorted(self.requests.items()):
            lines.append(f'apiserver_request_total{{verb="{verb}",resource="{res}",code="{code}"}} {n}')
        return "\n".join(lines) + "\n"

    def reset(self) -> None:
        self.requests.clear()
