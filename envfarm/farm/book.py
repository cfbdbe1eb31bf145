"""A job's durable record (pure): what is written to ``status`` and read back after a restart.

The :class:`Book` is the controller's working copy: finished samples and their outcomes, infrastructure
retries per sample, setup counts (each env attempt is counted once, when it resolves), failures by reason,
and the finished samples' results not yet in the job's result log (:mod:`envfarm.farm.resultlog`).
It is built from the recorded status on first sight, so a restarted controller resumes where the last
write left it. :class:`Recorded` is what the cluster holds now: a pod is only deleted once its outcome is
recorded there, so no finished rollout is ever run twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from envfarm.farm import ranges
from envfarm.models.job import (
    RESULTS_IN_STATUS,
    Condition,
    JobCounts,
    JobPhase,
    RolloutJobStatus,
    SampleResult,
    SetupStats,
)

HELD = "held"
INFRA = "infra_error"
SUCCESS = frozenset({"pass", HELD})
FINISHED_PHASES = frozenset({JobPhase.succeeded.value, JobPhase.failed.value, JobPhase.cancelled.value})


@dataclass
class Book:
    done: dict[int, str] = field(default_factory=dict)  # sample -> outcome
    unlogged: dict[int, SampleResult] = field(default_factory=dict)  # finished, not in the result log yet
    shown: dict[int, SampleResult] = field(default_factory=dict)  # samples < RESULTS_IN_STATUS, in status
    retries: dict[int, int] = field(default_factory=dict)  # unfinished sample -> infra failures so far
    attempted: int = 0
    up: int = 0
    infra: Counter[str] = field(default_factory=Counter)
    phase: str = JobPhase.pending.value
    message: str = ""
    start_time: str = ""
    completion_time: str = ""
    version: int = 0

    # ---- changes -----------------------------------------------------------------------------
    def finish(self, sample: int, result: SampleResult) -> None:
        """A sample's env came up and the agent finished: its outcome is final."""
        if sample in self.done:
            return
        self.done[sample] = result.outcome
        if result.outcome != HELD:
            self._record(sample, result)
        self.retries.pop(sample, None)
        self.attempted += 1
        self.up += 1
        self.version += 1

    def fail(
        self, sample: int, reason: str, *, was_up: bool, allowed: int, task: tuple[str, int], detail: str
    ) -> bool:
        """One env attempt failed for an infrastructure reason; True when the sample has no retry left."""
        if sample in self.done:
            return True
        self.attempted += 1
        self.up += int(was_up)
        self.infra[reason] += 1
        failures = self.retries.get(sample, 0) + 1
        self.version += 1
        if failures <= allowed:
            self.retries[sample] = failures
            return False
        self.retries.pop(sample, None)
        self.done[sample] = INFRA
        why = f"{reason}: {detail}" if detail else reason
        self._record(sample, SampleResult(task_id=task[0], sample=task[1], outcome=INFRA, reason=why[:300]))
        return True

    def _record(self, sample: int, result: SampleResult) -> None:
        self.unlogged[sample] = result
        if sample < RESULTS_IN_STATUS:
            self.shown[sample] = result

    def logged(self, batch: dict[int, SampleResult]) -> None:
        """``batch`` (taken from :attr:`unlogged`) is in the result log now."""
        for sample, result in batch.items():
            if self.unlogged.get(sample) is result:
                del self.unlogged[sample]

    def set_phase(self, phase: str, message: str, now_iso: str) -> None:
        if self.phase == phase and self.message == message:
            return
        self.phase, self.message = phase, message
        if phase == JobPhase.running.value and not self.start_time:
            self.start_time = now_iso
        if phase in FINISHED_PHASES and not self.completion_time:
            self.completion_time = now_iso
        self.version += 1

    def attempt(self, sample: int) -> int:
        return self.retries.get(sample, 0)

    # ---- status ------------------------------------------------------------------------------
    def counts(self, total: int, running: int) -> JobCounts:
        ok = sum(1 for o in self.done.values() if o in SUCCESS)
        infra = sum(1 for o in self.done.values() if o == INFRA)
        failed = len(self.done) - ok - infra
        return JobCounts(
            pending=max(0, total - len(self.done) - running),
            running=running,
            succeeded=ok,
            failed=failed,
            infra_errors=infra,
        )

    def to_status(
        self, total: int, running: int, generation: int, conditions: list[Condition]
    ) -> RolloutJobStatus:
        setup_yield = round(self.up / self.attempted, 4) if self.attempted else None
        return RolloutJobStatus(
            phase=JobPhase(self.phase),
            counts=self.counts(total, running),
            total=total,
            setup=SetupStats(attempted=self.attempted, up=self.up),
            setup_yield=setup_yield,
            infra_failures=dict(sorted(self.infra.items())),
            done=ranges.encode(self.done),
            retries={str(k): v for k, v in sorted(self.retries.items())},
            outcomes=self.outcome_ranges(),
            results=[r for _, r in sorted(self.shown.items())],
            conditions=conditions,
            start_time=self.start_time,
            completion_time=self.completion_time,
            message=self.message,
            observed_generation=generation,
        )

    def outcome_ranges(self) -> dict[str, str]:
        by: dict[str, list[int]] = {}
        for sample, outcome in self.done.items():
            if outcome != HELD:
                by.setdefault(outcome, []).append(sample)
        return {outcome: ranges.encode(samples) for outcome, samples in sorted(by.items())}

    @classmethod
    def from_status(cls, status: RolloutJobStatus, group_size: int, task_ids: list[str]) -> Book:
        """The book a previous controller left in ``status`` (its result log holds the details)."""
        done = dict.fromkeys(ranges.decode(status.done), HELD)
        for outcome, text in status.outcomes.items():
            for sample in ranges.decode(text, field=f"status.outcomes.{outcome}") & done.keys():
                done[sample] = outcome
        index = {t: i for i, t in enumerate(task_ids)}
        shown = {index[r.task_id] * group_size + r.sample: r for r in status.results if r.task_id in index}
        return cls(
            done=done,
            shown={s: r for s, r in shown.items() if s in done},
            retries={int(k): v for k, v in status.retries.items()},
            attempted=status.setup.attempted,
            up=status.setup.up,
            infra=Counter(status.infra_failures),
            phase=status.phase.value,
            message=status.message,
            start_time=status.start_time,
            completion_time=status.completion_time,
        )


@dataclass(frozen=True)
class Recorded:
    """What the cluster's copy of the status says (parsed once per resourceVersion)."""

    done: frozenset[int] = frozenset()
    retries: dict[int, int] = field(default_factory=dict)
    phase: str = JobPhase.pending.value
    status: RolloutJobStatus | None = None

    @classmethod
    def of(cls, status: RolloutJobStatus) -> Recorded:
        return cls(
            frozenset(ranges.decode(status.done)),
            {int(k): v for k, v in status.retries.items()},
            status.phase.value,
            status,
        )
