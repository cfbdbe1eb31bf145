"""What the controller needs from a backend (Kubernetes, or local envs): the :class:`Cluster` protocol."""

from __future__ import annotations

from typing import Any, Protocol

from envfarm.farm.types import JobState, SlimPod
from envfarm.models.job import RolloutJobStatus, SampleResult
from envfarm.sandbox.protocol import Sandbox

Obj = dict[str, Any]


class Cluster(Protocol):
    def synced(self) -> bool:
        """The first list of jobs and pods is in."""
        ...

    def jobs(self) -> list[Obj]:
        """RolloutJobs as dicts: metadata (name, namespace, uid, generation, resourceVersion, timestamps),
        spec and status."""
        ...

    def pods(self) -> list[SlimPod]: ...

    def budget(self) -> int:
        """API writes that may be started now."""
        ...

    async def prepare(self, job: JobState) -> None:
        """Once per job before its first env (the Kubernetes backend creates the runtime token's Secret)."""
        ...

    async def create_pod(self, job: JobState, sample: int, attempt: int) -> bool:
        """True once the env exists (created now, or already: adopted)."""
        ...

    async def delete_pod(self, job: JobState | None, name: str) -> None: ...

    async def write_results(self, job: JobState, batch: dict[int, SampleResult]) -> bool:
        """Append finished samples' results (by sample index) to the job's result log; True once stored."""
        ...

    async def write_status(self, job: JobState, status: RolloutJobStatus) -> bool: ...

    async def delete_job(self, job: JobState) -> None: ...

    async def emit(self, job: JobState, reason: str, message: str, warning: bool) -> None: ...

    async def sandbox(self, job: JobState, pod: SlimPod) -> Sandbox:
        """A connected handle on the env's runtime (never the exec API)."""
        ...
