"""Fresh environments of the sample tasks for tests: real bubblewrap sandboxes, no pip.

Each environment is a LocalSandbox on a new workspace checkout of the sample repository at the task's base
commit, with this project's virtualenv (which has pytest, the samples' only dependency) mounted read-only in
place of a built one. ``tests/`` is on sys.path (its conftest), so test folders import it as ``sample_envs``.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

from envfarm.models.task import SweTask, parse_task
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox, SandboxSpec
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import create_workspace, remove_workspace
from envfarm.testing.samples import SAMPLES_DIR

VENV = Path(sys.prefix)
BASE_PYTHON = Path(os.path.realpath(sys.executable)).parents[1]


def sample_tasks() -> dict[str, SweTask]:
    lines = (SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()
    tasks = [parse_task(json.loads(line)) for line in lines if line.strip()]
    return {t.instance_id: t for t in tasks if isinstance(t, SweTask)}


class SampleEnvs:
    """Fresh environments of sample tasks, shaped like :class:`envfarm.sandbox.envs.EnvManager`.

    The sample's only dependency is pytest, so this project's virtualenv stands in for a built one (the
    builder would pip-install it, and CI has no network).
    """

    def __init__(self, cache: RepoCache, root: Path, limits: Limits | None = None) -> None:
        self.cache, self.root = cache, root
        self.limits = limits or Limits(wall_time_s=600, memory_mb=1024, nproc=256)
        self.started = 0

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
        self.started += 1
        return env

    async def down(self, env: Sandbox) -> None:
        await env.stop()
        if isinstance(env, LocalSandbox):
            remove_workspace(env.spec.workspace)
