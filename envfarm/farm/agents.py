"""Agent runners: what happens in an env once it is up. ``hold`` keeps it for a time, ``replay`` applies
a given patch (gold, empty, or from a file) and grades it with the test verifier. ``policy`` (the LLM
agent loop of envfarm.agent, verified in a fresh env) is :mod:`envfarm.farm.policyrunner`'s runner, which
the CLI adds (it needs the backend's source of fresh envs).

A runner returns the sample's :class:`SampleResult`; it raises a SandboxError/OSError/TimeoutError when
the env failed (the controller books that as an infrastructure failure and retries).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from envfarm.errors import FileFormatError, SandboxError
from envfarm.farm.tasks import TaskSource
from envfarm.models.job import HoldAgent, ReplayAgent, RolloutJobSpec, SampleResult
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome
from envfarm.sandbox.protocol import Sandbox
from envfarm.verify.grading import RewardPolicy
from envfarm.verify.tests import TestVerifier, VerifyOptions

RESET = "git reset -q --hard && git clean -fdq"


@dataclass(frozen=True)
class EnvHandle:
    """One env that is up, and which sample of which job it serves."""

    job: str
    spec: RolloutJobSpec
    task_id: str
    sample: int  # index within the task's group
    attempt: int
    sandbox: Sandbox
    ready_at: float  # epoch seconds


class AgentRunner(Protocol):
    async def run(self, env: EnvHandle) -> SampleResult: ...


@runtime_checkable
class GroupRunner(Protocol):
    """A runner whose samples count as groups (``policy``): told when a sample of a task's group ended as
    an infrastructure error for good, so the group is recorded as dropped, never trained on as a 0."""

    async def give_up(self, job: str, task_id: str, reason: str) -> None: ...


class HoldRunner:
    """Keeps the env ``agent.seconds`` after it became ready: capacity rehearsal."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._time = clock

    async def run(self, env: EnvHandle) -> SampleResult:
        agent = env.spec.agent
        seconds = agent.seconds if isinstance(agent, HoldAgent) else 0.0
        await asyncio.sleep(max(0.0, env.ready_at + seconds - self._time()))
        return SampleResult(task_id=env.task_id, sample=env.sample, outcome="held")


class OneEnv:
    """The verifier's env provider for an env the controller owns: ``up`` hands it over, ``down`` keeps it."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def up(self, task: SweTask) -> Sandbox:
        return self.sandbox

    async def down(self, env: Sandbox) -> None:
        return None


class ReplayRunner:
    """Apply the job's patch to a fresh env and grade it with the test verifier."""

    def __init__(self, tasks: TaskSource, artifacts_dir: Path) -> None:
        self.tasks, self.artifacts_dir = tasks, artifacts_dir
        self._files: dict[str, dict[str, str]] = {}

    async def run(self, env: EnvHandle) -> SampleResult:
        task = self.tasks.get(env.task_id)
        patch = self.patch(env.spec, task)
        reset = await env.sandbox.exec(RESET, timeout_s=120)  # an env adopted after a restart may be touched
        if reset.exit_code != 0:
            raise SandboxError(f"resetting the workspace failed: {reset.stderr[-300:]}")
        verdict = await TestVerifier(OneEnv(env.sandbox), self.artifacts_dir, self.options(env.spec)).verify(
            task, patch
        )
        if verdict.outcome is Outcome.infra_error:
            raise SandboxError(verdict.reason)
        return SampleResult(
            task_id=env.task_id,
            sample=env.sample,
            outcome=verdict.outcome.value,
            reward=verdict.reward,
            reason=verdict.reason[:300],
        )

    @staticmethod
    def options(spec: RolloutJobSpec) -> VerifyOptions:
        v = spec.verifier
        policy = RewardPolicy.fraction if v.partial_credit else RewardPolicy.binary
        return VerifyOptions(reruns=v.reruns, timeout_s=float(v.timeout_s), reward_policy=policy)

    def patch(self, spec: RolloutJobSpec, task: SweTask) -> str:
        agent = spec.agent
        if not isinstance(agent, ReplayAgent) or agent.patches == "gold":
            return task.patch
        if agent.patches == "empty":
            return ""
        patches = self._files.get(agent.patch_file)
        if patches is None:
            patches = self._files[agent.patch_file] = load_patches(Path(agent.patch_file))
        return patches.get(task.instance_id, "")


def load_patches(path: Path) -> dict[str, str]:
    """instance_id -> patch from JSON lines (``patch`` or SWE-bench's ``model_patch``) or a JSON object."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the patch file: {exc}") from exc
    try:
        if text.lstrip().startswith("{") and "\n{" not in text.strip():
            data = json.loads(text)
            return {str(k): str(v) for k, v in data.items()}
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise FileFormatError(f"{path}: not JSON or JSON lines: {exc}") from exc
    return {str(r["instance_id"]): str(r.get("patch", r.get("model_patch", ""))) for r in rows}


def builtin_runners(tasks: TaskSource, artifacts_dir: Path) -> dict[str, AgentRunner]:
    """The runners that need nothing from the backend (``policy``: envfarm.farm.policyrunner.farm_runners)."""
    return {"hold": HoldRunner(), "replay": ReplayRunner(tasks, artifacts_dir)}
