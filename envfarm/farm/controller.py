"""The controller loop: observe (jobs, pods), plan (pure), apply the plan's actions in one place.

The same loop drives every backend through the :class:`~envfarm.farm.cluster.Cluster` protocol. Memory
holds only what a restart may lose without harm: creates in flight (until the informer sees the pod),
deletes in flight, agent runs, back-off times and the book's unwritten changes (the pods they concern are
kept until the status write lands).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from envfarm.errors import EnvfarmError, PolicyError, SandboxError
from envfarm.farm import memory
from envfarm.farm.agents import AgentRunner, EnvHandle, GroupRunner
from envfarm.farm.book import INFRA, Book, Recorded
from envfarm.farm.clock import iso, parse_time, ready_since
from envfarm.farm.cluster import Cluster, Obj
from envfarm.farm.conditions import conditions
from envfarm.farm.events import EventLimiter
from envfarm.farm.planner import Budget, plan, running_count
from envfarm.farm.tasks import TaskSource
from envfarm.farm.types import (
    Action,
    AgentResult,
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
from envfarm.models.job import InfraReason, RolloutJobSpec, RolloutJobStatus, SampleResult

log = logging.getLogger(__name__)
INFRA_ERRORS = (SandboxError, PolicyError, OSError, TimeoutError)


@dataclass
class Options:
    status_interval_s: float = 2.0
    max_pass_s: float = 1.0  # plan at least this often
    debounce_s: float = 0.01  # gather a burst of events into one pass


class Controller:
    """``await Controller(cluster, runners, tasks).run(stop)``; ``reconcile()`` runs one pass."""

    def __init__(
        self,
        cluster: Cluster,
        runners: Mapping[str, AgentRunner],
        tasks: TaskSource,
        *,
        options: Options | None = None,
        is_leader: Callable[[], bool] = lambda: True,
        metrics: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster, self.runners, self.tasks = cluster, runners, tasks
        self.options = options or Options()
        self.is_leader, self.metrics, self.clock = is_leader, metrics, clock
        self.states: dict[str, JobState] = {}
        self.deleting: set[str] = set()
        self.writing: set[str] = set()
        self.tasks_running: set[asyncio.Task[Any]] = set()
        self.agent_tasks: dict[tuple[str, int], asyncio.Task[Any]] = {}
        self.events = EventLimiter()
        self.wake = asyncio.Event()
        self.wake_at: float | None = None
        self.passes: list[float] = []  # seconds per pass (the bench reads them)
        self.seen_ready: set[str] = set()

    # ---- loop --------------------------------------------------------------------------------
    def poke(self) -> None:
        """Ask for a pass soon (thread-safe through ``loop.call_soon_threadsafe``)."""
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            timeout = self.options.max_pass_s
            if self.wake_at is not None:
                timeout = max(0.0, min(timeout, self.wake_at - self.clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
            await asyncio.sleep(self.options.debounce_s)
            self.wake.clear()
            if not self.is_leader():
                self._step_down()
                continue
            if self.cluster.synced():
                self.reconcile()
        await self.close()

    async def close(self) -> None:
        for task in list(self.tasks_running):
            task.cancel()
        await asyncio.gather(*self.tasks_running, return_exceptions=True)

    def _step_down(self) -> None:
        """Not the leader (any more): forget everything; a new term starts from the cluster's state."""
        for task in self.agent_tasks.values():
            task.cancel()
        self.agent_tasks.clear()
        self.states.clear()

    def reconcile(self) -> Plan:
        t0 = time.perf_counter()
        now = self.clock()
        pods = self.cluster.pods()
        by_job: dict[str, list[SlimPod]] = defaultdict(list)
        for pod in pods:
            by_job[pod["job"]].append(pod)
        jobs = self._jobs(by_job, now)
        result = plan(jobs, by_job, now, Budget(self.cluster.budget(), self.options.status_interval_s))
        self.apply(result.actions, by_job, now)
        self.wake_at = result.wake_at
        spent = time.perf_counter() - t0
        self.passes.append(spent)
        if self.metrics is not None:
            self.metrics.reconcile.observe(spent)
            self.metrics.tracked_pods.set(len(pods))
        return result

    # ---- observed jobs -> states -------------------------------------------------------------
    def _jobs(self, by_job: Mapping[str, list[SlimPod]], now: float) -> list[JobState]:
        seen: set[str] = set()
        for raw in self.cluster.jobs():
            state = self._state(raw)
            if state is None:
                continue
            seen.add(state.key)
            for pod in by_job.get(state.key, ()):
                if state.expected.get(pod["sample"]) == pod["attempt"]:
                    del state.expected[pod["sample"]]
                self._observe_ready(pod, now)
        for key in set(self.states) - seen:
            self._forget(key)
        return [self.states[k] for k in sorted(seen)]

    def _state(self, raw: Obj) -> JobState | None:
        meta = raw.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        state = self.states.get(key)
        if state is None or state.uid != meta.get("uid", ""):
            state = self._new_state(key, raw)
            if state is None:
                return None
            self.states[key] = state
        elif state.generation != int(meta.get("generation") or 0):
            state.spec = RolloutJobSpec.model_validate(raw.get("spec") or {})
            state.generation = int(meta.get("generation") or 0)
        state.recorded = _recorded(state, raw)
        state.deleting = bool(meta.get("deletionTimestamp"))
        return state

    def _new_state(self, key: str, raw: Obj) -> JobState | None:
        meta = raw.get("metadata") or {}
        try:
            spec = RolloutJobSpec.model_validate(raw.get("spec") or {})
            status = RolloutJobStatus.model_validate(raw.get("status") or {})
            task_ids = self.tasks.resolve(spec.tasks)
        except (ValidationError, EnvfarmError) as exc:
            log.warning("job %s cannot run: %s", key, exc)
            return None
        state = JobState(
            key=key,
            name=str(meta.get("name")),
            namespace=str(meta.get("namespace", "")),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation") or 0),
            spec=spec,
            task_ids=task_ids,
            created=parse_time(meta.get("creationTimestamp")) or self.clock(),
            book=Book.from_status(status, spec.group_size, task_ids),
            recorded=Recorded.of(status),
        )
        state.written = state.book.version
        state.last_write = self.clock() - self.options.status_interval_s / 2
        self._spawn(self.cluster.prepare(state))
        return state

    def _forget(self, key: str) -> None:
        self.states.pop(key, None)
        for (job, sample), task in list(self.agent_tasks.items()):
            if job == key:
                task.cancel()
                del self.agent_tasks[(job, sample)]

    def _observe_ready(self, pod: SlimPod, now: float) -> None:
        if pod["ready"] and pod["name"] not in self.seen_ready and self.metrics is not None:
            self.seen_ready.add(pod["name"])
            self.metrics.time_to_ready.observe(max(0.0, pod["ready_at"] - pod["created"]))

    # ---- apply: the one place actions take effect ----------------------------------------------
    def apply(self, actions: list[Action], by_job: Mapping[str, list[SlimPod]], now: float) -> None:
        live = {p["name"]: p for pods in by_job.values() for p in pods}  # one index: O(1) per action
        self.deleting &= live.keys()
        self.seen_ready &= live.keys()
        for action in actions:
            job = self.states.get(action.job)
            if isinstance(action, DeletePod):
                self._delete(job, action.name)
            elif job is None:
                continue
            elif isinstance(action, CreatePod):
                job.expected[action.sample] = action.attempt
                self._spawn(self._create(job, action))
            elif isinstance(action, StartAgent):
                self._start_agent(job, action, live.get(action.pod))
            elif isinstance(action, BookResult | BookInfraFailure | SetPhase):
                self._book(job, action, now)
            elif isinstance(action, WriteStatus):
                self._write(job, by_job.get(job.key, []), now)
            elif isinstance(action, DeleteJob):
                self._spawn(self.cluster.delete_job(job))
            elif isinstance(action, Emit):
                self._emit(job, action.reason, action.message, action.warning, now)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks_running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks_running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("controller task failed: %s", task.exception())
        self.wake.set()

    def _delete(self, job: JobState | None, name: str) -> None:
        if name in self.deleting:
            return
        self.deleting.add(name)
        self._spawn(self.cluster.delete_pod(job, name))
        if self.metrics is not None:
            self.metrics.pods_deleted.inc()

    async def _create(self, job: JobState, action: CreatePod) -> None:
        ok = False
        try:
            ok = await self.cluster.create_pod(job, action.sample, action.attempt)
        finally:
            if not ok and job.expected.get(action.sample) == action.attempt:
                del job.expected[action.sample]
        if ok and self.metrics is not None:
            self.metrics.pods_created.inc()

    def _book(self, job: JobState, action: BookResult | BookInfraFailure | SetPhase, now: float) -> None:
        final = memory.book(job, action, now)
        task = self.agent_tasks.pop((job.key, getattr(action, "sample", -1)), None)
        if task is not None and isinstance(action, BookInfraFailure):
            task.cancel()
        if isinstance(action, BookResult) and action.result.outcome == INFRA:
            self._give_up(job, action.sample, action.result.reason)
        if isinstance(action, BookInfraFailure):
            if final:
                self._give_up(job, action.sample, f"{action.reason}: {action.detail}")
            if self.metrics is not None:
                self.metrics.infra_failures.labels(action.reason).inc()
            what = "gave up" if final else "will retry"
            self._emit(
                job,
                "InfraFailure",
                f"sample {action.sample}: {action.reason} ({what}) {action.detail}"[:300],
                True,
                now,
            )

    def _give_up(self, job: JobState, sample: int, reason: str) -> None:
        """A sample ended as an infrastructure error for good: a group runner drops its group."""
        runner = self.runners.get(job.spec.agent.kind)
        if isinstance(runner, GroupRunner):
            task_id, _ = job.task_of(sample)
            self._spawn(runner.give_up(job.key, task_id, f"sample {sample}: {reason}"[:300]))

    def _write(self, job: JobState, pods: list[SlimPod], now: float) -> None:
        if job.key in self.writing:
            return
        running = running_count(job, pods)
        previous = job.recorded.status.conditions if job.recorded.status else []
        status = job.book.to_status(
            job.total,
            running,
            job.generation,
            conditions(job.book.phase, job.book.message, iso(now), previous),
        )
        self.writing.add(job.key)
        job.last_write = now
        if self.metrics is not None and status.setup_yield is not None:
            self.metrics.setup_yield.labels(job.key).set(status.setup_yield)
        self._spawn(self._write_async(job, status, job.book.version, dict(job.book.unlogged)))

    async def _write_async(
        self, job: JobState, status: RolloutJobStatus, version: int, batch: dict[int, SampleResult]
    ) -> None:
        """The finished samples' results go to the result log first, then the status that says they are
        done: a sample's pod is only deleted once both are written."""
        try:
            if batch:
                if not await self.cluster.write_results(job, batch):
                    return
                job.book.logged(batch)
            if await self.cluster.write_status(job, status):
                job.written = max(job.written, version)
                job.recorded = Recorded.of(status)
        finally:
            self.writing.discard(job.key)

    def _emit(self, job: JobState, reason: str, message: str, warning: bool, now: float) -> None:
        if self.events.allow(job.key, reason, now):
            self._spawn(self.cluster.emit(job, reason, message, warning))

    # ---- agents -----------------------------------------------------------------------------
    def _start_agent(self, job: JobState, action: StartAgent, pod: SlimPod | None) -> None:
        runner = self.runners.get(job.spec.agent.kind)
        if runner is None or pod is None:
            log.warning("job %s: no runner for agent kind %r", job.key, job.spec.agent.kind)
            return
        job.agents.add(action.sample)
        task = self._spawn(self._run_agent(job, runner, pod, action))
        self.agent_tasks[(job.key, action.sample)] = task

    async def _run_agent(self, job: JobState, runner: AgentRunner, pod: SlimPod, action: StartAgent) -> None:
        task_id, index = job.task_of(action.sample)
        try:
            sandbox = await self.cluster.sandbox(job, pod)
            try:
                ready = ready_since(pod["ready_at"], self.clock())
                env = EnvHandle(job.key, job.spec, task_id, index, action.attempt, sandbox, ready)
                result = AgentResult(action.sample, action.attempt, await runner.run(env))
            finally:
                await sandbox.stop()
        except INFRA_ERRORS as exc:
            lost = (
                InfraReason.policy_unavailable
                if isinstance(exc, PolicyError)
                else InfraReason.runtime_unreachable
            )
            reason = lost.value
            result = AgentResult(action.sample, action.attempt, infra=reason, detail=str(exc)[:200])
        job.results[action.sample] = result


def _recorded(state: JobState, raw: Obj) -> Recorded:
    """The cluster's status, parsed only when the job's resourceVersion changed."""
    rv = str((raw.get("metadata") or {}).get("resourceVersion", ""))
    if rv and rv == state.rv:
        return state.recorded
    state.rv = rv
    try:
        return Recorded.of(RolloutJobStatus.model_validate(raw.get("status") or {}))
    except ValidationError:
        log.warning("job %s: unreadable status; keeping the last one", state.key)
        return state.recorded
