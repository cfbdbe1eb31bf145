"""RolloutJob: a batch of rollouts. The same model backs the Kubernetes custom resource."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from envfarm.models.task import Strict


class TaskSelector(Strict):
    ids: list[str] = Field(default_factory=list)
    repo: str = ""
    status: str = ""
    text: str = ""
    limit: int | None = Field(default=None, ge=1)


class EnvResources(Strict):
    cpu: str = "1"
    memory: str = "2Gi"


class ReplayAgent(Strict):
    kind: Literal["replay"] = "replay"
    patches: Literal["gold", "empty", "file"] = "gold"
    patch_file: str = ""


class HoldAgent(Strict):
    kind: Literal["hold"] = "hold"
    seconds: float = Field(default=60.0, ge=0)


class PolicyAgent(Strict):
    kind: Literal["policy"] = "policy"
    endpoint: str = ""
    model: str = ""
    max_steps: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=32768, ge=1)
    temperature: float = 1.0


Agent = Annotated[ReplayAgent | HoldAgent | PolicyAgent, Field(discriminator="kind")]


class VerifierSpec(Strict):
    kind: Literal["tests", "web"] = "tests"
    reruns: int = Field(default=1, ge=1)
    partial_credit: bool = False
    timeout_s: int = Field(default=1800, ge=1)


class RolloutJobSpec(Strict):
    tasks: TaskSelector = Field(default_factory=TaskSelector)
    group_size: int = Field(default=1, ge=1)
    concurrency: int = Field(default=8, ge=1)
    resources: EnvResources = Field(default_factory=EnvResources)
    image: str = ""
    timeout_s: int = Field(default=3600, ge=1)
    retries: int = Field(default=2, ge=0)
    verifier: VerifierSpec = Field(default_factory=VerifierSpec)
    agent: Agent = Field(default_factory=ReplayAgent)


class JobPhase(StrEnum):
    pending = "Pending"
    running = "Running"
    succeeded = "Succeeded"
    failed = "Failed"
    cancelled = "Cancelled"


class JobCounts(Strict):
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    infra_errors: int = 0


class RolloutJobStatus(Strict):
    phase: JobPhase = JobPhase.pending
    counts: JobCounts = Field(default_factory=JobCounts)
    setup_yield: float | None = None
    infra_failures: dict[str, int] = Field(default_factory=dict)
    observed_generation: int = 0


class RolloutJob(Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    namespace: str = "default"
    spec: RolloutJobSpec = Field(default_factory=RolloutJobSpec)
    status: RolloutJobStatus = Field(default_factory=RolloutJobStatus)
