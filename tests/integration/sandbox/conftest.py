"""Real sandboxes on the calc sample repository: one repo cache and one venv per test session."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from envfarm.models import SweTask, parse_task
from envfarm.sandbox.interpreters import find_python
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox, SandboxSpec, find_bwrap
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import create_workspace
from envfarm.settings import Settings
from envfarm.testing.samples import SAMPLES_DIR, build_sample

if find_bwrap() is None:
    pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')", allow_module_level=True)

SMALL = Limits(wall_time_s=120, memory_mb=256, nproc=64, file_size_mb=16, output_bytes=64 * 1024, tmp_mb=64)


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("sandbox")
    build_sample("calc", root / "calc-src")
    settings = Settings.from_env(root / "home")
    RepoCache(settings.repos_dir).add("envfarm-samples/calc", root / "calc-src")
    return settings


@pytest.fixture(scope="session")
def calc_task() -> SweTask:
    task = parse_task(json.loads((SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()[0]))
    assert isinstance(task, SweTask)
    return task


@pytest.fixture
async def sandbox(
    sample_settings: Settings, calc_task: SweTask, tmp_path: Path
) -> AsyncIterator[LocalSandbox]:
    """A started sandbox on a fresh calc workspace, run by the host's python 3.11 (no venv needed)."""
    snap, sha = RepoCache(sample_settings.repos_dir).snapshot(calc_task.repo, calc_task.base_commit)
    workspace = create_workspace(snap, sha, tmp_path / "workspace")
    python = find_python("3.11")
    ro = [snap] + ([] if python.prefix.is_relative_to("/usr") else [python.prefix])
    spec = SandboxSpec(
        workspace=workspace, base_commit=sha, python=str(python.executable), ro_paths=ro, limits=SMALL
    )
    box = LocalSandbox(spec)
    await box.start()
    yield box
    await box.stop()
