"""What the planner sees and what it asks for (pure data, no I/O).

A pod is a :class:`SlimPod`: the few fields of the raw JSON the controller needs (a few hundred bytes,
never the whole object). A job is a :class:`JobState`: its spec, the durable :class:`~envfarm.farm.book.Book`
(what will be written to ``status``), what the cluster has recorded already, and the controller's
in-memory expectations (creates in flight, agents running, their results).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from envfarm.farm.book import Book, Recorded
from envfarm.models.job import RolloutJobSpec, SampleResult


class SlimPod(TypedDict):
    name: str
    uid: str
    owner: str  # uid of the owning RolloutJob (from ownerReferences)
    job: str  # the job's key: namespace/name
    sample: int
    attempt: int
    phase: str
    ready: bool
    ready_at: float  # epoch seconds the pod became Ready (0: never)
    created: float  # epoch seconds
    ip: str
    failure: str  # an InfraReason value, or "" when the pod is healthy (as far as can be seen)
    unschedulable: bool  # the scheduler said Unschedulable (a failure only at the setup deadline)
    detail: str  # why, in at most 200 characters
    deleting: bool


@dataclass(frozen=True)
class AgentResult:
    """What an agent runner finished with: a sample's result, or an infrastructure failure (``infra``)."""

    sample: int
    attempt: int
    result: SampleResult | None = None
    infra: str = ""  # an InfraReason value when the environment failed
    detail: str = ""


@dataclass
class JobState:
    key: str  # namespace/name
    name: str
    namespace: str
    uid: str
    generation: int
    spec: RolloutJobSpec
    task_ids: list[str]
    created: float
    book: Book
    recorded: Recorded
    deleting: bool = False
    expected: dict[int, int] = field(default_factory=dict)  # sample -> attempt being created
    agents: set[int] = field(default_factory=set)  # samples whose agent runs now
    results: dict[int, AgentResult] = field(default_factory=dict)  # finished agents, not yet booked
    retry_at: dict[int, float] = field(default_factory=dict)  # sample -> earliest retry (memory only)
    last_write: float = 0.0
    rv: str = ""  # the resourceVersion whose status ``recorded`` holds
    written: int = -1  # the book version the last successful status write held

    @property
    def total(self) -> int:
        return len(self.task_ids) * self.spec.group_size

    def task_of(self, sample: int) -> tuple[str, int]:
        """The task id and the index within its group of a sample."""
        g = self.spec.group_size
        return self.task_ids[sample // g], sample % g


# ---- actions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreatePod:
    job: str
    sample: int
    attempt: int


@dataclass(frozen=True)
class DeletePod:
    job: str
    name: str
    reason: str


@dataclass(frozen=True)
class StartAgent:
    job: str
    sample: int
    attempt: int
    pod: str
    ip: str


@dataclass(frozen=True)
class BookResult:
    job: str
    sample: int
    result: SampleResult


@dataclass(frozen=True)
class BookInfraFailure:
    job: str
    sample: int
    attempt: int
    reason: str
    was_up: bool
    detail: str = ""


@dataclass(frozen=True)
class WriteStatus:
    job: str


@dataclass(frozen=True)
class SetPhase:
    job: str
    phase: str
    message: str = ""


@dataclass(frozen=True)
class DeleteJob:
    job: str


@dataclass(frozen=True)
class Emit:
    job: str
    reason: str
    message: str
    warning: bool = False


Action = (
    CreatePod
    | DeletePod
    | StartAgent
    | BookResult
    | BookInfraFailure
    | WriteStatus
    | SetPhase
    | DeleteJob
    | Emit
)


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    wake_at: float | None = None  # when to plan again at the latest (back-offs, holds, timeouts)

    def wake(self, at: float) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)
