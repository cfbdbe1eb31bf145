"""The local backend: the same planner and controller over LocalSandbox environments on this machine.

An "env pod" here is one environment from an :class:`EnvProvider` (by default the
:class:`~envfarm.sandbox.envs.EnvManager`: a bubblewrap sandbox on a fresh workspace with the task's
cached venv). Each is reported to the planner as a :class:`SlimPod` with the same deterministic name a
Kubernetes pod would have; jobs live in :class:`~envfarm.farm.localjobs.LocalJobs` files. Env starts run
at most ``max_starting`` at a time; nothing here spends an API budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from envfarm.errors import EnvBuildError, EnvfarmError, SandboxError
from envfarm.farm import names
from envfarm.farm.cluster import Obj
from envfarm.farm.localjobs import LocalJobs
from envfarm.farm.tasks import TaskSource
from envfarm.farm.types import JobState, SlimPod
from envfarm.models.job import InfraReason, RolloutJobStatus, SampleResult
from envfarm.models.task import SweTask
from envfarm.sandbox.protocol import Sandbox

log = logging.getLogger(__name__)
LOCAL_BUDGET = 1_000_000  # no API: the planner's creates are bounded by the jobs' concurrency


class EnvProvider(Protocol):
    async def up(self, task: SweTask) -> Sandbox: ...

    async def down(self, env: Sandbox) -> None: ...


class Borrowed:
    """An env lent to an agent runner: commands go to it, ``stop`` leaves it up (the cluster removes it)."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.exec = inner.exec
        self.read = inner.read
        self.write = inner.write
        self.diff = inner.diff

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass
class LocalEnv:
    pod: SlimPod
    task_id: str
    sandbox: Sandbox | None = None
    starting: asyncio.Task[None] | None = None


class LocalCluster:
    """The :class:`~envfarm.farm.cluster.Cluster` protocol over local envs, for the jobs named in ``run``."""

    def __init__(
        self,
        jobs: LocalJobs,
        tasks: TaskSource,
        envs: EnvProvider,
        *,
        max_starting: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.tasks, self.envs, self.clock = jobs, tasks, envs, clock
        self.names: set[str] = set()
        self.envs_by_name: dict[str, LocalEnv] = {}
        self.removing: set[str] = set()
        self.starting = asyncio.Semaphore(max_starting)
        self.notify: Callable[[], None] = lambda: None
        self.started = 0

    def run(self, name: str) -> None:
        """Drive the job ``name`` (a file in the store)."""
        self.names.add(name)

    # ---- observe -------------------------------------------------------------------------------
    def synced(self) -> bool:
        return True

    def jobs(self) -> list[Obj]:
        return [obj for name in sorted(self.names) if (obj := self.store.find(name)) is not None]

    def pods(self) -> list[SlimPod]:
        return [e.pod.copy() for e in self.envs_by_name.values()]

    def budget(self) -> int:
        return LOCAL_BUDGET

    # ---- envs ----------------------------------------------------------------------------------
    async def prepare(self, job: JobState) -> None:
        return None

    async def create_pod(self, job: JobState, sample: int, attempt: int) -> bool:
        name = names.pod_name(job.name, sample, attempt)
        if name in self.envs_by_name:
            return True
        task_id, _ = job.task_of(sample)
        env = LocalEnv(_pending(name, job, sample, attempt, self.clock()), task_id)
        self.envs_by_name[name] = env
        env.starting = asyncio.get_running_loop().create_task(self._start(env))
        return True

    async def _start(self, env: LocalEnv) -> None:
        try:
            async with self.starting:
                sandbox = await self.envs.up(self.tasks.get(env.task_id))
        except asyncio.CancelledError:
            raise
        except (EnvfarmError, OSError, TimeoutError) as exc:
            reason = (
                InfraReason.image_pull if isinstance(exc, EnvBuildError) else InfraReason.runtime_unreachable
            )
            pod = env.pod
            pod["phase"], pod["failure"], pod["detail"] = (
                "Failed",
                reason.value,
                f"env start failed: {exc}"[:200],
            )
            log.warning("env %s did not start: %s", env.pod["name"], exc)
        else:
            self.started += 1
            if env.pod["name"] not in self.envs_by_name:  # deleted while starting
                await self.envs.down(sandbox)
                return
            env.sandbox = sandbox
            pod = env.pod
            pod["phase"], pod["ready"], pod["ready_at"] = "Running", True, self.clock()
        finally:
            env.starting = None
            self.notify()

    async def delete_pod(self, job: JobState | None, name: str) -> None:
        env = self.envs_by_name.pop(name, None)
        if env is None:
            return
        self.removing.add(name)  # gone for the planner, but its env is still being taken down
        try:
            if env.starting is not None:
                env.starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, EnvfarmError, OSError):
                    await env.starting
            if env.sandbox is not None:
                with contextlib.suppress(EnvfarmError, OSError):
                    await self.envs.down(env.sandbox)
        finally:
            self.removing.discard(name)
            self.notify()

    def idle(self) -> bool:
        """No env is up, starting or being removed."""
        return not self.envs_by_name and not self.removing

    async def sandbox(self, job: JobState, pod: SlimPod) -> Sandbox:
        env = self.envs_by_name.get(pod["name"])
        if env is None or env.sandbox is None:
            raise SandboxError(f"env {pod['name']} is not up")
        return Borrowed(env.sandbox)

    async def close(self) -> None:
        """Remove every env this backend started."""
        for name in list(self.envs_by_name):
            await self.delete_pod(None, name)

    # ---- job records ---------------------------------------------------------------------------
    async def write_results(self, job: JobState, batch: dict[int, SampleResult]) -> bool:
        return await asyncio.to_thread(self.store.add_results, job.name, job.uid, batch)

    async def write_status(self, job: JobState, status: RolloutJobStatus) -> bool:
        return await asyncio.to_thread(self.store.write_status, job.name, job.uid, status)

    async def delete_job(self, job: JobState) -> None:
        self.store.delete(job.name)
        self.notify()

    async def emit(self, job: JobState, reason: str, message: str, warning: bool) -> None:
        (log.warning if warning else log.info)("job %s: %s: %s", job.name, reason, message)
        self.store.add_event(job.name, reason, message, warning, self.clock())


def _pending(name: str, job: JobState, sample: int, attempt: int, now: float) -> SlimPod:
    return SlimPod(
        name=name,
        uid=f"{job.uid}/{sample}/{attempt}",
        owner=job.uid,
        job=job.key,
        sample=sample,
        attempt=attempt,
        phase="Pending",
        ready=False,
        ready_at=0.0,
        created=now,
        ip="",
        failure="",
        unschedulable=False,
        detail="",
        deleting=False,
    )
