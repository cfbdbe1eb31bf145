"""Event rate limits (pure): one event per (job, reason) per window, and a global token bucket."""

from __future__ import annotations

from envfarm.farm.events import EventLimiter


def test_one_event_per_job_and_reason_per_window() -> None:
    lim = EventLimiter(per_key_s=10, per_second=100, burst=100)
    assert lim.allow("a", "InfraFailure", 0.0)
    assert not lim.allow("a", "InfraFailure", 9.9)
    assert lim.allow("a", "Completed", 9.9) and lim.allow("b", "InfraFailure", 9.9)
    assert lim.allow("a", "InfraFailure", 10.0)
    assert lim.dropped == 1


def test_global_burst_then_rate() -> None:
    lim = EventLimiter(per_key_s=0, per_second=2, burst=3)
    assert [lim.allow(f"j{i}", "R", 100.0) for i in range(5)] == [True, True, True, False, False]
    assert lim.allow("late", "R", 100.5) and not lim.allow("later", "R", 100.5)
    assert lim.dropped == 3
