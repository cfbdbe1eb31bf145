"""Fresh environments of the sample tasks for tests: real bubblewrap sandboxes, no pip.

Each environment is a LocalSandbox on a new workspace checkout of the sample repository at the task's base
commit, with this project's virtualenv (which has pytest, the samples' only dependency) mounted read-only in
place of a built one. ``tests/`` is on sys.path (its conftest), so test folders import it as ``sample_envs``.
"""

from __future__ import annotations

import json
from pathlib import Path

from envfarm.models.task import SweTask, parse_task
from envfarm.sandbox.hostenvs import HostVenvEnvs
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.repos import RepoCache
from envfarm.testing.samples import SAMPLES_DIR


def sample_tasks() -> dict[str, SweTask]:
    lines = (SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()
    tasks = [parse_task(json.loads(line)) for line in lines if line.strip()]
    return {t.instance_id: t for t in tasks if isinstance(t, SweTask)}


class SampleEnvs(HostVenvEnvs):
    """Fresh environments of sample tasks, shaped like :class:`envfarm.sandbox.envs.EnvManager`.

    The sample's only dependency is pytest, so this project's virtualenv stands in for a built one (the
    builder would pip-install it): :class:`~envfarm.sandbox.hostenvs.HostVenvEnvs` with test-sized limits.
    """

    def __init__(self, cache: RepoCache, root: Path, limits: Limits | None = None) -> None:
        super().__init__(cache, root, limits or Limits(wall_time_s=600, memory_mb=1024, nproc=256))
