"""Applying the planner's bookkeeping actions to a job's in-memory state (pure; both adapters share it)."""

from __future__ import annotations

from envfarm.farm.clock import iso
from envfarm.farm.types import BookInfraFailure, BookResult, JobState, SetPhase

MAX_BACKOFF_S = 300.0


def backoff(base_s: float, failures: int) -> float:
    """The wait before retry number ``failures`` (1-based): base, 2x base, 4x base ... at most 300 s."""
    return min(MAX_BACKOFF_S, base_s * float(2 ** max(0, failures - 1)))


def book(job: JobState, action: BookResult | BookInfraFailure | SetPhase, now: float) -> bool:
    """Apply one bookkeeping action; True when a sample ran out of retries (worth an event)."""
    if isinstance(action, SetPhase):
        job.book.set_phase(action.phase, action.message, iso(now))
        return False
    job.results.pop(action.sample, None)
    job.agents.discard(action.sample)
    if isinstance(action, BookResult):
        job.book.finish(action.sample, action.result)
        return False
    final = job.book.fail(
        action.sample,
        action.reason,
        was_up=action.was_up,
        allowed=job.spec.retries,
        task=job.task_of(action.sample),
        detail=action.detail,
    )
    if not final:
        job.retry_at[action.sample] = now + backoff(job.spec.retry_backoff_s, job.book.attempt(action.sample))
    else:
        job.retry_at.pop(action.sample, None)
    return final
