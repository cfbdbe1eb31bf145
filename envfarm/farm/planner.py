"""The pure planner: ``plan(jobs, observed_pods, now, budget) -> Plan`` (no I/O, no clock, no randomness).

Both adapters (Kubernetes and local) call it and apply its actions in one place. Rules:

- A sample needs an env until its outcome is booked. Pods are named by (job, sample, attempt), so a
  create is idempotent and a restarted controller adopts what it finds.
- A pod is deleted only once the cluster has *recorded* the outcome of its attempt (status written),
  so a crash between the two never loses or repeats a rollout.
- An env that fails for an infrastructure reason is booked as a failed attempt (not a task failure) and
  retried after a back-off, up to ``spec.retries``; then the sample is an ``infra_error``.
- Creates and deletes share the API budget; deletes go first (they free capacity).
- Status is written at most once per ``status_interval_s`` per job, at once when the job finishes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envfarm.farm.book import FINISHED_PHASES
from envfarm.farm.clock import parse_time
from envfarm.farm.types import (
    BookInfraFailure,
    BookResult,
    CreatePod,
    DeleteJob,
    DeletePod,
    Emit,
    JobState,
    Plan,
    SetPhase,
    SlimPod,
    StartAgent,
    WriteStatus,
)
from envfarm.models.job import InfraReason, JobPhase

RUNNING = JobPhase.running.value


@dataclass
class Budget:
    """API writes (pod creates and deletes) this pass may spend, and how often status may be written."""

    writes: int
    status_interval_s: float = 2.0

    def take(self) -> bool:
        if self.writes <= 0:
            return False
        self.writes -= 1
        return True


def plan(
    jobs: Sequence[JobState], observed_pods: Mapping[str, Sequence[SlimPod]], now: float, budget: Budget
) -> Plan:
    """Every action needed now to move the cluster toward the jobs' wanted state."""
    out = Plan()
    known = {j.key: j for j in jobs}
    _sweep_orphans(known, observed_pods, out, budget)
    for job in jobs:
        if not job.deleting:
            _plan_job(job, observed_pods.get(job.key, ()), now, budget, out)
    return out


def _sweep_orphans(
    known: Mapping[str, JobState], pods: Mapping[str, Sequence[SlimPod]], out: Plan, budget: Budget
) -> None:
    """Pods whose job is gone (or was replaced by a new one of the same name) are deleted."""
    for key, group in pods.items():
        job = known.get(key)
        for pod in group:
            stale = job is None or (pod["uid"] and job.uid and _owner(pod) != job.uid)
            if stale and not pod["deleting"] and budget.take():
                out.actions.append(DeletePod(key, pod["name"], "orphan"))


def _owner(pod: SlimPod) -> str:
    return pod["owner"]


def _plan_job(job: JobState, pods: Sequence[SlimPod], now: float, budget: Budget, out: Plan) -> None:
    if job.book.phase in FINISHED_PHASES:
        _finished(job, pods, now, budget, out)
        return
    if _ending(job, now, out):
        _write(job, pods, now, budget, out, urgent=True)
        return
    live = _triage(job, pods, now, budget, out)
    _book_agents(job, out)
    _creates(job, live, pods, now, budget, out)
    if job.book.phase != RUNNING:
        out.actions.append(SetPhase(job.key, RUNNING))
        out.actions.append(
            Emit(job.key, "Started", f"{job.total} samples, concurrency {job.spec.concurrency}")
        )
    _write(job, pods, now, budget, out, urgent=False)


def _ending(job: JobState, now: float, out: Plan) -> bool:
    """Cancelled, past its timeout, or every sample booked: set the final phase."""
    started = job.created
    if job.spec.suspend:
        phase, message, reason = JobPhase.cancelled.value, "cancelled (spec.suspend)", "Cancelled"
    elif now - started > job.spec.timeout_s:
        phase, message, reason = (
            JobPhase.failed.value,
            f"ran past spec.timeout_s={job.spec.timeout_s}",
            "TimedOut",
        )
    elif len(job.book.done) >= job.total:
        phase, message, reason = JobPhase.succeeded.value, _summary(job), "Completed"
    else:
        out.wake(started + job.spec.timeout_s + 0.001)
        return False
    out.actions.append(SetPhase(job.key, phase, message))
    out.actions.append(Emit(job.key, reason, message, warning=reason == "TimedOut"))
    return True


def _summary(job: JobState) -> str:
    c = job.book.counts(job.total, 0)
    return f"{c.succeeded} succeeded, {c.failed} failed, {c.infra_errors} infra errors of {job.total}"


def _finished(job: JobState, pods: Sequence[SlimPod], now: float, budget: Budget, out: Plan) -> None:
    """A finished job: once the cluster has recorded it, its pods go; after the TTL, the job goes."""
    if job.recorded.phase in FINISHED_PHASES:
        for pod in pods:
            if not pod["deleting"] and budget.take():
                out.actions.append(DeletePod(job.key, pod["name"], "job finished"))
        _ttl(job, now, out)
    _write(job, pods, now, budget, out, urgent=True)


def _ttl(job: JobState, now: float, out: Plan) -> None:
    ttl = job.spec.ttl_seconds_after_finished
    if ttl is None or job.recorded.status is None:
        return
    done_at = parse_time(job.recorded.status.completion_time) or now
    if now >= done_at + ttl:
        out.actions.append(DeleteJob(job.key))
    else:
        out.wake(done_at + ttl)


def _triage(
    job: JobState, pods: Sequence[SlimPod], now: float, budget: Budget, out: Plan
) -> dict[int, SlimPod]:
    """Sort each pod: delete it (outcome recorded), wait (outcome not yet recorded), or act on it (live)."""
    live: dict[int, SlimPod] = {}
    for pod in pods:
        if pod["deleting"] or (job.uid and _owner(pod) and _owner(pod) != job.uid):
            continue
        s, a = pod["sample"], pod["attempt"]
        if s >= job.total or s in job.recorded.done or a < job.recorded.retries.get(s, 0):
            if budget.take():
                out.actions.append(DeletePod(job.key, pod["name"], "done"))
        elif s not in job.book.done and a >= job.book.attempt(s):
            live[s] = pod
            _live(job, pod, now, out)
    return live


def _live(job: JobState, pod: SlimPod, now: float, out: Plan) -> None:
    s, a = pod["sample"], pod["attempt"]
    if s in job.results:
        return
    if pod["failure"]:
        out.actions.append(
            BookInfraFailure(job.key, s, a, pod["failure"], pod["ready_at"] > 0, pod["detail"])
        )
    elif not pod["ready"] and not pod["ready_at"]:
        deadline = pod["created"] + job.spec.setup_timeout_s
        if now >= deadline:
            why = f"not ready {job.spec.setup_timeout_s}s after creation"
            reason = InfraReason.unschedulable if pod["unschedulable"] else InfraReason.deadline
            out.actions.append(BookInfraFailure(job.key, s, a, reason.value, False, why))
        else:
            out.wake(deadline)
    elif pod["ready"] and s not in job.agents:
        out.actions.append(StartAgent(job.key, s, a, pod["name"], pod["ip"]))


def _book_agents(job: JobState, out: Plan) -> None:
    for s, r in sorted(job.results.items()):
        if s in job.book.done or r.attempt != job.book.attempt(s):
            continue
        if r.infra or r.result is None:
            out.actions.append(
                BookInfraFailure(job.key, s, r.attempt, r.infra or "runtime_unreachable", True, r.detail)
            )
        else:
            out.actions.append(BookResult(job.key, s, r.result))


def _creates(
    job: JobState, live: dict[int, SlimPod], pods: Sequence[SlimPod], now: float, budget: Budget, out: Plan
) -> None:
    present = {p["sample"] for p in pods if not p["deleting"]}
    active = len(present | set(job.expected))
    room = min(job.spec.concurrency - active, budget.writes)
    if room <= 0:
        return
    for s in range(job.total):
        if s in job.book.done or s in present or s in job.expected or s in live:
            continue
        at = job.retry_at.get(s, 0.0)
        if at > now:
            out.wake(at)
            continue
        budget.take()
        out.actions.append(CreatePod(job.key, s, job.book.attempt(s)))
        room -= 1
        if room <= 0:
            return


def running_count(job: JobState, pods: Sequence[SlimPod]) -> int:
    """Samples whose env is up and whose outcome is not booked yet."""
    if job.book.phase in FINISHED_PHASES:
        return 0
    done = job.book.done
    return sum(1 for p in pods if p["ready"] and not p["deleting"] and p["sample"] not in done)


def _write(
    job: JobState, pods: Sequence[SlimPod], now: float, budget: Budget, out: Plan, *, urgent: bool
) -> None:
    """Write status when the book or the counts changed: at most once per interval, at once when urgent."""
    recorded = job.recorded.status
    counts = job.book.counts(job.total, running_count(job, pods))
    same = recorded is not None and job.written == job.book.version and recorded.counts == counts
    if same and recorded is not None and recorded.phase.value == job.book.phase:
        return
    due = job.last_write + budget.status_interval_s
    if urgent or now >= due:
        out.actions.append(WriteStatus(job.key))
    else:
        out.wake(due)
