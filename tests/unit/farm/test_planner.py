"""The pure planner, table-driven: observed state in, actions out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from farm_helpers import NOW, job, pod

from envfarm.farm import memory
from envfarm.farm.book import Recorded
from envfarm.farm.planner import Budget, plan
from envfarm.farm.types import (
    AgentResult,
    BookInfraFailure,
    BookResult,
    CreatePod,
    DeleteJob,
    DeletePod,
    JobState,
    SetPhase,
    SlimPod,
    StartAgent,
    WriteStatus,
)
from envfarm.models.job import JobPhase, RolloutJobStatus, SampleResult


@dataclass
class Case:
    name: str
    pods: list[SlimPod] = field(default_factory=list)
    setup: Callable[[JobState], Any] = lambda j: None
    budget: int = 100
    job_kw: dict[str, Any] = field(default_factory=dict)
    want: list[Any] = field(default_factory=list)  # actions that must be present
    absent: list[type] = field(default_factory=list)  # action types that must not be
    refuse: list[Any] = field(default_factory=list)  # actions that must not be


def running(j: JobState) -> None:
    j.book.phase = JobPhase.running.value


def done_recorded(j: JobState) -> None:
    running(j)
    j.book.done[0] = "held"
    j.recorded = Recorded(done=frozenset({0}), phase="Running")


def done_unrecorded(j: JobState) -> None:
    running(j)
    j.book.done[0] = "held"


CASES = [
    Case(
        "creates up to concurrency",
        job_kw={"concurrency": 2},
        want=[CreatePod("ns/j", 0, 0), CreatePod("ns/j", 1, 0)],
    ),
    Case("creates limited by the API budget", budget=1, want=[CreatePod("ns/j", 0, 0)]),
    Case(
        "existing pods are adopted, not recreated",
        pods=[pod(0), pod(1)],
        setup=running,
        want=[CreatePod("ns/j", 2, 0), CreatePod("ns/j", 3, 0)],
    ),
    Case(
        "a ready pod starts its agent",
        pods=[pod(0)],
        setup=running,
        want=[StartAgent("ns/j", 0, 0, "j-0-0", "10.0.0.0")],
    ),
    Case(
        "a pod not ready yet waits",
        pods=[pod(0, ready=False, ready_at=0.0)],
        setup=running,
        absent=[StartAgent],
    ),
    Case(
        "image pull failure is booked",
        pods=[pod(0, ready=False, ready_at=0.0, failure="image_pull", detail="x")],
        setup=running,
        want=[BookInfraFailure("ns/j", 0, 0, "image_pull", False, "x")],
        absent=[StartAgent],
    ),
    Case(
        "setup deadline",
        pods=[pod(0, ready=False, ready_at=0.0, created=NOW - 700)],
        setup=running,
        want=[BookInfraFailure("ns/j", 0, 0, "deadline", False, "not ready 600s after creation")],
    ),
    Case(
        "unschedulable at the deadline",
        pods=[pod(0, ready=False, ready_at=0.0, created=NOW - 700, unschedulable=True)],
        setup=running,
        want=[BookInfraFailure("ns/j", 0, 0, "unschedulable", False, "not ready 600s after creation")],
    ),
    Case(
        "a recorded outcome deletes the pod",
        pods=[pod(0)],
        setup=done_recorded,
        want=[DeletePod("ns/j", "j-0-0", "done")],
        absent=[StartAgent],
    ),
    Case(
        "an unrecorded outcome keeps the pod",
        pods=[pod(0)],
        setup=done_unrecorded,
        absent=[DeletePod, StartAgent],
        refuse=[CreatePod("ns/j", 0, 0), CreatePod("ns/j", 0, 1)],
    ),
    Case(
        "orphans are swept",
        pods=[pod(0, owner="other-uid")],
        setup=running,
        want=[DeletePod("ns/j", "j-0-0", "orphan")],
    ),
    Case(
        "suspend cancels",
        job_kw={"suspend": True},
        want=[SetPhase("ns/j", "Cancelled", "cancelled (spec.suspend)")],
        absent=[CreatePod],
    ),
    Case(
        "timeout fails the job",
        job_kw={"timeout_s": 5},
        setup=running,
        want=[SetPhase("ns/j", "Failed", "ran past spec.timeout_s=5")],
        absent=[CreatePod],
    ),
]


def actions(case: Case) -> list[Any]:
    j = job(**case.job_kw)
    case.setup(j)
    return plan([j], {"ns/j": case.pods}, NOW, Budget(case.budget)).actions


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_table(case: Case) -> None:
    got = actions(case)
    for wanted in case.want:
        assert wanted in got, f"{wanted} missing from {got}"
    for kind in case.absent:
        assert not [a for a in got if isinstance(a, kind)], got
    for action in case.refuse:
        assert action not in got, got


def test_concurrency_counts_existing_pods() -> None:
    j = job(10, concurrency=3)
    running(j)
    got = plan([j], {"ns/j": [pod(0), pod(1)]}, NOW, Budget(100)).actions
    assert [a for a in got if isinstance(a, CreatePod)] == [CreatePod("ns/j", 2, 0)]


def test_agent_result_is_booked_then_pod_deleted_after_the_status_write() -> None:
    j = job(1)
    running(j)
    j.agents.add(0)
    result = SampleResult(task_id="t0", outcome="pass", reward=1.0)
    j.results[0] = AgentResult(0, 0, result)
    got = plan([j], {"ns/j": [pod(0)]}, NOW, Budget(100)).actions
    assert BookResult("ns/j", 0, result) in got
    assert not [a for a in got if isinstance(a, DeletePod)]
    for a in got:
        if isinstance(a, BookResult | SetPhase):
            memory.book(j, a, NOW)
    got = plan([j], {"ns/j": [pod(0)]}, NOW, Budget(100)).actions
    assert SetPhase("ns/j", "Succeeded", "1 succeeded, 0 failed, 0 infra errors of 1") in got
    assert WriteStatus("ns/j") in got and not [a for a in got if isinstance(a, DeletePod)]
    for a in got:
        if isinstance(a, SetPhase):
            memory.book(j, a, NOW)
    j.recorded = Recorded.of(j.book.to_status(1, 0, 1, []))
    got = plan([j], {"ns/j": [pod(0)]}, NOW, Budget(100)).actions
    assert DeletePod("ns/j", "j-0-0", "job finished") in got


def test_infra_failure_retries_after_backoff_then_counts() -> None:
    j = job(1, retries=1, retry_backoff_s=10)
    running(j)
    failed = BookInfraFailure("ns/j", 0, 0, "oom", True, "")
    assert not memory.book(j, failed, NOW)
    assert j.book.attempt(0) == 1 and j.retry_at[0] == NOW + 10
    early = plan([j], {"ns/j": []}, NOW + 1, Budget(100))
    assert not [a for a in early.actions if isinstance(a, CreatePod)] and early.wake_at == NOW + 10
    late = plan([j], {"ns/j": []}, NOW + 11, Budget(100)).actions
    assert CreatePod("ns/j", 0, 1) in late
    assert memory.book(j, BookInfraFailure("ns/j", 0, 1, "evicted", False, "gone"), NOW)
    status = j.book.to_status(1, 0, 1, [])
    assert status.counts.infra_errors == 1 and status.counts.failed == 0
    assert status.infra_failures == {"evicted": 1, "oom": 1}
    assert status.setup.attempted == 2 and status.setup.up == 1 and status.setup_yield == 0.5


def test_old_attempt_pod_deleted_once_the_failure_is_recorded() -> None:
    j = job(1)
    running(j)
    memory.book(j, BookInfraFailure("ns/j", 0, 0, "oom", True, ""), NOW)
    old = pod(0, failure="oom")
    assert not [a for a in plan([j], {"ns/j": [old]}, NOW, Budget(100)).actions if isinstance(a, DeletePod)]
    j.recorded = Recorded.of(j.book.to_status(1, 0, 1, []))
    assert DeletePod("ns/j", "j-0-0", "done") in plan([j], {"ns/j": [old]}, NOW, Budget(100)).actions


def test_status_writes_are_batched_per_interval() -> None:
    j = job(2)
    running(j)
    j.last_write = NOW - 1
    p = plan([j], {"ns/j": [pod(0)]}, NOW, Budget(100, status_interval_s=2.0))
    assert WriteStatus("ns/j") not in p.actions and p.wake_at is not None and p.wake_at <= NOW + 1
    assert WriteStatus("ns/j") in plan([j], {"ns/j": [pod(0)]}, NOW + 1.5, Budget(100)).actions


def test_ttl_deletes_finished_job() -> None:
    j = job(1, ttl_seconds_after_finished=60)
    j.book.phase = "Succeeded"
    status = RolloutJobStatus(phase=JobPhase.succeeded, completion_time="1970-01-12T13:46:00Z")
    j.recorded = Recorded.of(status)
    j.written = j.book.version
    assert DeleteJob("ns/j") not in plan([j], {}, 1_000_000.0, Budget(10)).actions
    assert DeleteJob("ns/j") in plan([j], {}, 1_000_000.0 + 61, Budget(10)).actions


def test_book_round_trips_through_status() -> None:
    j = job(3, group=2)
    memory.book(
        j, BookResult("ns/j", 3, SampleResult(task_id="t1", sample=1, outcome="fail", reward=0.0)), NOW
    )
    memory.book(j, BookResult("ns/j", 0, SampleResult(task_id="t0", sample=0, outcome="held")), NOW)
    memory.book(j, BookInfraFailure("ns/j", 5, 0, "oom", False, ""), NOW)
    status = j.book.to_status(6, 0, 1, [])
    assert status.outcomes == {"fail": "3"} and status.done == "0,3"
    assert [(r.task_id, r.sample, r.outcome) for r in status.results] == [("t1", 1, "fail")]
    back = type(j.book).from_status(status, 2, j.task_ids)
    assert back.done == {0: "held", 3: "fail"} and back.retries == {5: 1}
    assert back.counts(6, 0) == j.book.counts(6, 0)
    assert sorted(j.book.unlogged) == [3], "held samples have no result to log; the failure's is unlogged"
    assert not back.unlogged and back.shown == j.book.shown
