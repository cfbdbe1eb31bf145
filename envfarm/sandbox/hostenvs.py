"""Environments that reuse the running interpreter's virtualenv instead of building one.

For tasks whose only dependencies are already installed here (envfarm's sample tasks need just pytest),
for tests and benchmarks: each environment is a fresh LocalSandbox on a new workspace at the task's base
commit, with this virtualenv and its base interpreter mounted read-only. Same ``up``/``down`` shape as
:class:`envfarm.sandbox.envs.EnvManager`.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from envfarm.models.task import SweTask
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox, SandboxSpec
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import create_workspace, remove_workspace

VENV = Path(sys.prefix)
BASE_PYTHON = Path(os.path.realpath(sys.executable)).parents[1]


class HostVenvEnvs:
    """Fresh environments of cached repositories, run with this process's virtualenv."""

    def __init__(self, cache: RepoCache, root: Path, limits: Limits | None = None) -> None:
        self.cache, self.root = cache, root
        self.limits = limits or Limits()
        self.started = 0

    async def make(self, task: SweTask) -> LocalSandbox:
        """A new, not yet started environment (for callers that start it themselves)."""
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
        return LocalSandbox(spec)

    async def up(self, task: SweTask) -> Sandbox:
        env = await self.make(task)
        await env.start()
        self.started += 1
        return env

    async def down(self, env: Sandbox) -> None:
        await env.stop()
        if isinstance(env, LocalSandbox):
            remove_workspace(env.spec.workspace)
