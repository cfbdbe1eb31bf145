"""Real environments of the calc sample for the rollout tests (imported by conftest and tests).

Each environment is a bubblewrap sandbox (LocalSandbox) on a fresh workspace of the sample repository at the
task's base commit, with this project's virtualenv (which has pytest) mounted read-only in place of a built
one. ``kill_after(n)`` makes the n-th environment (0-based) really die after that many commands: its
bubblewrap process is killed with SIGKILL, as an OOM kill or a lost node would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sample_envs import SampleEnvs as SharedSampleEnvs
from sample_envs import sample_tasks

from envfarm.models.task import SweTask
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.wire import ExecResult

__all__ = [
    "BUGGY_RETURN",
    "CALC",
    "FIXED_RETURN",
    "STATS",
    "WRONG_RETURN",
    "EnvsFactory",
    "SampleEnvs",
    "sample_tasks",
]

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


class SampleEnvs(SharedSampleEnvs):
    """The shared sample environments, each wrapped so that ``kill_after`` can kill it mid-rollout."""

    def __init__(
        self,
        cache: RepoCache,
        root: Path,
        *,
        kill_after: Callable[[int], int | None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(cache, root, limits)
        self.kill_after = kill_after
        self.live = 0

    async def up(self, task: SweTask) -> Sandbox:
        after = self.kill_after(self.started) if self.kill_after else None
        env = await super().up(task)
        assert isinstance(env, LocalSandbox)
        self.live += 1
        return Killable(env, after)

    async def down(self, env: Sandbox) -> None:
        self.live -= 1
        await super().down(env.inner if isinstance(env, Killable) else env)
