"""The rollout driver: a job's rollouts in groups of G per task, streamed out as complete groups.

At most ``spec.concurrency`` rollouts hold an environment at once (the agent's, then a fresh one for the
verifier). An infrastructure failure (the environment never came up, was lost mid-episode, the policy
endpoint stayed down) re-dispatches that rollout after ``spec.retry_backoff_s`` (doubling), up to
``spec.retries`` times; a rollout that still cannot finish, or whose verification keeps failing for
infrastructure reasons, drops its whole group: the siblings are cancelled, the group is counted in
:class:`DriverStats`, and nothing of it is scored. ``agent.group_timeout_s`` is the group's deadline:
episodes still running then stop (``wall_time``) and are verified as they stand; a sample that cannot
even start before it drops the group.

Environments come from an :class:`EnvProvider` (locally :class:`envfarm.sandbox.envs.EnvManager`, on a
cluster the controller's provider) and verdicts from a :class:`Verifier` (the test verifier), so neither
is fixed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from envfarm.agent import prompts
from envfarm.agent.loop import Agent, AgentLimits
from envfarm.agent.policy import Policy
from envfarm.agent.recording import build_record, group_id, with_verdict
from envfarm.errors import ConfigError, PolicyError, SandboxError
from envfarm.models.job import PolicyAgent, RolloutJob
from envfarm.models.rollout import RolloutGroup, RolloutRecord
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome, Verdict
from envfarm.sandbox.protocol import Sandbox

log = logging.getLogger(__name__)


class EnvProvider(Protocol):
    async def up(self, task: SweTask) -> Sandbox:
        """A new, started environment of ``task`` at its base commit."""
        ...

    async def down(self, env: Sandbox) -> None:
        """Stop ``env`` and remove every trace of it."""
        ...


class Verifier(Protocol):
    async def verify(self, task: SweTask, patch: str) -> Verdict: ...


@dataclass
class DriverStats:
    groups_completed: int = 0
    groups_dropped: int = 0
    rollouts_completed: int = 0
    redispatched: int = 0
    infra_failures: Counter[str] = field(default_factory=Counter)
    dropped: dict[str, str] = field(default_factory=dict)  # group_id -> why
    dropped_tasks: dict[str, str] = field(default_factory=dict)  # group_id -> task_id


class InfraFailure(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {detail}")


class GroupDropped(Exception):
    """A group that cannot be completed; ``reason`` says why."""


INFRA_ERRORS = (SandboxError, OSError, TimeoutError)
MAX_BACKOFF_S = 300.0


class RolloutDriver:
    """``async for group in RolloutDriver(job, envs=..., verifier=..., policy=...).run(tasks)``."""

    def __init__(
        self,
        job: RolloutJob,
        *,
        envs: EnvProvider,
        verifier: Verifier,
        policy: Policy,
        backoff_s: float | None = None,
    ) -> None:
        if not isinstance(job.spec.agent, PolicyAgent):
            raise ConfigError(f"job {job.name}: spec.agent.kind must be 'policy' for rollouts")
        self.job, self.agent = job, job.spec.agent
        self.envs, self.verifier, self.policy = envs, verifier, policy
        self.limits = AgentLimits.of(self.agent)
        self.stats = DriverStats()
        self.slots = asyncio.Semaphore(job.spec.concurrency)
        # before a re-dispatch: backoff_s * 2**(attempt - 1), at most MAX_BACKOFF_S (default: the job's)
        self.backoff_s = job.spec.retry_backoff_s if backoff_s is None else backoff_s
        self._done: set[str] = set()

    async def run(self, tasks: Sequence[SweTask]) -> AsyncIterator[RolloutGroup]:
        """Complete groups as they finish; stopping the iteration cancels the rest."""
        queue: asyncio.Queue[RolloutGroup | None] = asyncio.Queue(maxsize=self._groups_in_flight())
        producer = asyncio.create_task(self._produce(tasks, queue))
        try:
            while (group := await queue.get()) is not None:
                yield group
            await producer
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    def _groups_in_flight(self) -> int:
        return math.ceil(self.job.spec.concurrency / self.job.spec.group_size) + 1

    async def _produce(self, tasks: Sequence[SweTask], queue: asyncio.Queue[RolloutGroup | None]) -> None:
        gate = asyncio.Semaphore(self._groups_in_flight())
        started: list[tuple[str, str]] = []
        try:
            async with asyncio.timeout(self.job.spec.timeout_s):
                async with asyncio.TaskGroup() as tg:
                    for task in tasks:
                        await gate.acquire()
                        started.append((group_id(self.job.name, task.instance_id), task.instance_id))
                        tg.create_task(self._group(task, gate, queue))
        except TimeoutError:
            for gid, task_id in started:
                if gid not in self.stats.dropped and gid not in self._done:
                    self._drop(gid, task_id, f"job {self.job.name} ran past spec.timeout_s")
        finally:
            await queue.put(None)

    def _drop(self, gid: str, task_id: str, reason: str) -> None:
        self.stats.groups_dropped += 1
        self.stats.dropped[gid] = reason
        self.stats.dropped_tasks[gid] = task_id
        log.warning("group %s dropped whole: %s", gid, reason)

    async def _group(
        self, task: SweTask, gate: asyncio.Semaphore, queue: asyncio.Queue[RolloutGroup | None]
    ) -> None:
        gid = group_id(self.job.name, task.instance_id)
        try:
            records = await self._samples(task, gid)
        except GroupDropped as exc:
            self._drop(gid, task.instance_id, str(exc))
            return
        finally:
            gate.release()
        self._done.add(gid)
        self.stats.groups_completed += 1
        await queue.put(
            RolloutGroup(group_id=gid, task_id=task.instance_id, job=self.job.name, records=records)
        )

    async def _samples(self, task: SweTask, gid: str) -> list[RolloutRecord]:
        timeout = self.agent.group_timeout_s
        deadline = time.monotonic() + timeout if timeout else None
        messages = prompts.first_messages(
            task, workdir=_workdir(task), template=self.agent.prompt_template, system=self.agent.system_prompt
        )
        try:
            async with asyncio.TaskGroup() as tg:
                runs = [
                    tg.create_task(self._sample(task, gid, i, messages, deadline))
                    for i in range(self.job.spec.group_size)
                ]
        except* GroupDropped as group:
            raise GroupDropped(str(group.exceptions[0])) from None
        return [r.result() for r in runs]

    async def _sample(
        self, task: SweTask, gid: str, index: int, messages: list[dict[str, object]], deadline: float | None
    ) -> RolloutRecord:
        failures: list[str] = []
        for attempt in range(1, self.job.spec.retries + 2):
            if deadline is not None and time.monotonic() >= deadline:
                last = failures[-1] if failures else "none"
                raise GroupDropped(
                    f"sample {index} could not run before the group deadline (last failure: {last})"
                )
            try:
                async with self.slots:
                    record = await self._attempt(task, gid, index, messages, deadline)
                    record = await self._verified(task, record, attempt)
            except InfraFailure as exc:
                self.stats.infra_failures[exc.kind] += 1
                failures.append(str(exc))
                log.warning("rollout %s.%d attempt %d: infrastructure failure %s", gid, index, attempt, exc)
                if attempt <= self.job.spec.retries:
                    await asyncio.sleep(min(self.backoff_s * 2 ** min(attempt - 1, 16), MAX_BACKOFF_S))
                continue
            self.stats.rollouts_completed += 1
            self.stats.redispatched += attempt - 1
            return record
        raise GroupDropped(f"sample {index} failed {len(failures)} times: {failures[-1]}")

    async def _attempt(
        self, task: SweTask, gid: str, index: int, messages: list[dict[str, object]], deadline: float | None
    ) -> RolloutRecord:
        started = time.monotonic()
        env = await self._up(task)
        try:
            agent = Agent(env, self.policy, self.limits, workdir=_workdir(task))
            episode = await agent.run(list(messages), deadline=deadline)
        except PolicyError as exc:
            raise InfraFailure("policy", str(exc)) from exc
        except INFRA_ERRORS as exc:
            raise InfraFailure("env_lost", f"{type(exc).__name__}: {exc}") from exc
        finally:
            await self._down(env)
        return build_record(
            job=self.job.name,
            task_id=task.instance_id,
            group=gid,
            sample_idx=index,
            episode=episode,
            policy_version=self.policy.version,
            total_s=time.monotonic() - started,
        )

    async def _up(self, task: SweTask) -> Sandbox:
        try:
            return await self.envs.up(task)
        except INFRA_ERRORS as exc:
            raise InfraFailure("env_up", f"{type(exc).__name__}: {exc}") from exc

    async def _down(self, env: Sandbox) -> None:
        try:
            await self.envs.down(env)
        except INFRA_ERRORS as exc:
            log.warning("taking an environment down failed: %s", exc)

    async def _verified(self, task: SweTask, record: RolloutRecord, attempts: int) -> RolloutRecord:
        """The record with its verdict; verification that keeps failing drops the group."""
        reasons = []
        for _ in range(self.job.spec.retries + 1):
            t0 = time.monotonic()
            verdict = await self.verifier.verify(task, record.patch)
            if verdict.outcome is not Outcome.infra_error:
                return with_verdict(record, verdict, time.monotonic() - t0, attempts)
            self.stats.infra_failures["verify"] += 1
            reasons.append(verdict.reason)
        raise GroupDropped(f"verification of {record.rollout_id} failed (infra_error): {reasons[-1]}")


def _workdir(task: SweTask) -> str:
    return task.envfarm.env.workdir or "/testbed"
