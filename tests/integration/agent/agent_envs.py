"""Real environments of the calc sample for the rollout tests (imported by conftest and tests).

Each environment is a bubblewrap sandbox (LocalSandbox) on a fresh workspace of the sample repository at the
task's base commit, with this project's virtualenv (which has pytest) mounted read-only in place of a built
one. ``kill_after(n)`` makes the n-th environment (0-based) really die after that many commands: its
bubblewrap process is killed with SIGKILL, as an OOM kill or a lost node would.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from envfarm.models.task import SweTask, parse_task
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox, SandboxSpec
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.wire import ExecResult
from envfarm.sandbox.workspace import create_workspace, remove_workspace
from envfarm.testing.samples import SAMPLES_DIR

VENV = Path(sys.prefix)
BASE_PYTHON = Path(os.path.realpath(sys.executable)).parents[1]
CALC = "envfarm-samples__calc-3"
STATS = "src/calc/stats.py"
BUGGY_RETURN = "    return ordered[len(ordered) // 2]\n"
FIXED_RETURN = (
    "    middle = len(ordered) // 2\n"
    "    if len(ordered) % 2:\n"
    "        return ordered[middle]\n"
    "    return (ordered[middle - 1] + ordered[middle]) / 2\n"
)
WRONG_RETURN = "    return ordered[0]\n"


EnvsFactory = Callable[..., "SampleEnvs"]


def sample_tasks() -> dict[str, SweTask]:
    lines = (SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()
    tasks = [parse_task(json.loads(line)) for line in lines if line.strip()]
    return {t.instance_id: t for t in tasks if isinstance(t, SweTask)}


class Killable:
    """A LocalSandbox whose process is killed (SIGKILL) before its command number ``after`` + 1."""

    def __init__(self, inner: LocalSandbox, after: int | None) -> None:
        self.inner, self.after, self.execs = inner, after, 0

    async def start(self) -> None:
        await self.inner.start()

    async def exec(self, cmd: str | list[str], **kwargs: object) -> ExecResult:
        self.execs += 1
        if self.after is not None and self.execs > self.after and self.inner.proc is not None:
            self.inner.proc.kill()
            self.inner.proc.wait()
        return await self.inner.exec(cmd, **kwargs)  # type: ignore[arg-type]

    async def read(self, path: str) -> bytes:
        return await self.inner.read(path)

    async def write(self, path: str, content: bytes | str) -> None:
        await self.inner.write(path, content)

    async def diff(self) -> bytes:
        return await self.inner.diff()

    async def stop(self) -> None:
        await self.inner.stop()


class SampleEnvs:
    """Fresh environments of sample tasks, shaped like the EnvManager provider."""

    def __init__(
        self,
        cache: RepoCache,
        root: Path,
        *,
        kill_after: Callable[[int], int | None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.cache, self.root, self.kill_after = cache, root, kill_after
        self.limits = limits or Limits(wall_time_s=600, memory_mb=1024, nproc=256)
        self.started = 0
        self.live = 0

    async def up(self, task: SweTask) -> Sandbox:
        snapshot, sha = self.cache.snapshot(task.repo, task.base_commit)
        workspace = create_workspace(snapshot, sha, self.root / uuid.uuid4().hex[:12])
        spec = SandboxSpec(
            workspace=workspace,
            base_commit=sha,
            python=str(VENV / "bin" / "python"),
            ro_paths=[VENV, BASE_PYTHON, snapshot],
            path_dirs=[str(VENV / "bin")],
            limits=self.limits,
        )
        env = LocalSandbox(spec)
        await env.start()
        after = self.kill_after(self.started) if self.kill_after else None
        self.started += 1
        self.live += 1
        return Killable(env, after)

    async def down(self, env: Sandbox) -> None:
        self.live -= 1
        await env.stop()
        inner = env.inner if isinstance(env, Killable) else env
        if isinstance(inner, LocalSandbox):
            remove_workspace(inner.spec.workspace)
