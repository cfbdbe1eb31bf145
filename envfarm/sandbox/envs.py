"""Environments of tasks: venv from the builder, workspace from the repository cache, a LocalSandbox.

``EnvManager.up(task)`` is the one call rollouts and verifiers make locally; ``down`` removes every trace
(processes, socket directory, workspace).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
from pathlib import Path

from envfarm.errors import InputError
from envfarm.models.task import InstallConfig, SweTask
from envfarm.sandbox.builder import BuiltEnv, EnvBuilder, install_commands
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox, SandboxSpec
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import checkout_workspace, create_workspace, init_workspace
from envfarm.settings import Settings

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def new_name(task: SweTask) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", task.instance_id.lower()).strip("-")[:24]
    return f"{stem}-{secrets.token_hex(3)}"


class EnvManager:
    """Local environments for tasks: the ``up(task)``/``down(env)`` provider of verifiers and drivers."""

    def __init__(
        self,
        settings: Settings,
        *,
        limits: Limits | None = None,
        unsafe: bool = False,
        online: bool = False,
        max_venv_bytes: int = 20 * 1024**3,
    ) -> None:
        self.settings = settings
        self.limits = limits or Limits()
        self.unsafe = unsafe
        self.online = online
        self.repos = RepoCache(settings.repos_dir)
        self.builder = EnvBuilder(
            settings.venvs_dir, settings.home / "cache" / "pip", max_bytes=max_venv_bytes, unsafe=unsafe
        )

    def env_dir(self, name: str) -> Path:
        if not NAME_RE.match(name):
            raise InputError(f"environment name {name!r} must match {NAME_RE.pattern}")
        return self.settings.envs_dir / name

    async def prepare(self, task: SweTask, name: str) -> tuple[SandboxSpec, str]:
        """Build (or reuse) the venv and lay out an empty workspace; returns the spec and the base SHA."""
        snap, sha = self.repos.snapshot(task.repo, task.base_commit, online=self.online)
        built = await self._venv(task)
        workspace = self.env_dir(name) / "workspace"
        init_workspace(snap, workspace)
        return self.spec(task, built, workspace, snap, sha), sha

    async def _venv(self, task: SweTask) -> BuiltEnv:
        cached = self.builder.cached(task)
        if cached is not None:
            return cached
        config = task.install_config or InstallConfig()
        checkout = None
        if install_commands(config):
            setup = task.environment_setup_commit or task.base_commit
            snap, sha = self.repos.snapshot(task.repo, setup, online=self.online)
            checkout = self.settings.envs_dir / f"build-{secrets.token_hex(4)}"
            create_workspace(snap, sha, checkout)
        try:
            return await self.builder.build(task, checkout, keep=self.running_hashes())
        finally:
            if checkout is not None:
                shutil.rmtree(checkout, ignore_errors=True)

    def spec(self, task: SweTask, built: BuiltEnv, workspace: Path, snap: Path, sha: str) -> SandboxSpec:
        config = task.install_config or InstallConfig()
        return SandboxSpec(
            workspace=workspace,
            base_commit=sha,
            python=built.python,
            ro_paths=[*built.ro_paths(), snap],
            path_dirs=[str(built.venv / "bin")],
            env={"VIRTUAL_ENV": str(built.venv), **config.env_vars},
            limits=self.limits,
            workdir=task.envfarm.env.workdir or "/testbed",
        )

    async def up(self, task: SweTask, name: str | None = None) -> LocalSandbox:
        """A started environment for ``task``; stop it with :meth:`down`."""
        name = name or new_name(task)
        spec, sha = await self.prepare(task, name)
        sandbox = LocalSandbox(spec, name=name, unsafe=self.unsafe)
        # the checkout fills the (already bound) workspace while bwrap and the runtime start
        results = await asyncio.gather(
            asyncio.to_thread(checkout_workspace, spec.workspace, sha),
            sandbox.start(),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await sandbox.stop()
            shutil.rmtree(self.env_dir(name), ignore_errors=True)
            raise errors[0]
        return sandbox

    async def down(self, sandbox: Sandbox) -> None:
        """Stop an environment; for one of ours, remove its workspace too (no trace left)."""
        await sandbox.stop()
        if isinstance(sandbox, LocalSandbox):
            shutil.rmtree(self.env_dir(sandbox.name), ignore_errors=True)

    def running_hashes(self) -> set[str]:
        """Venv hashes used by environments that exist now (never evicted)."""
        hashes = set()
        for spec_file in self.settings.envs_dir.glob("*/spec.json"):
            try:
                spec = SandboxSpec.model_validate_json(spec_file.read_text())
            except ValueError:
                continue
            hashes.add(Path(spec.python).parent.parent.name)
        return hashes
