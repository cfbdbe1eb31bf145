"""Builders of planner inputs for the farm's unit tests."""

from __future__ import annotations

from typing import Any

from envfarm.farm.book import Book, Recorded
from envfarm.farm.types import JobState, SlimPod
from envfarm.models.job import HoldAgent, RolloutJobSpec

NOW = 1_000_000.0


def job(n_tasks: int = 4, *, group: int = 1, uid: str = "uid-1", **spec: Any) -> JobState:
    spec.setdefault("agent", HoldAgent(seconds=1))
    s = RolloutJobSpec(group_size=group, **spec)
    return JobState(
        key="ns/j",
        name="j",
        namespace="ns",
        uid=uid,
        generation=1,
        spec=s,
        task_ids=[f"t{i}" for i in range(n_tasks)],
        created=NOW - 10,
        book=Book(),
        recorded=Recorded(),
    )


def pod(sample: int, attempt: int = 0, **kw: Any) -> SlimPod:
    base = SlimPod(
        name=f"j-{sample}-{attempt}",
        uid=f"p{sample}-{attempt}",
        owner="uid-1",
        job="ns/j",
        sample=sample,
        attempt=attempt,
        phase="Running",
        ready=True,
        ready_at=NOW - 5,
        created=NOW - 8,
        ip=f"10.0.0.{sample}",
        failure="",
        detail="",
        unschedulable=False,
        deleting=False,
    )
    base.update(kw)  # type: ignore[typeddict-item]
    return base
