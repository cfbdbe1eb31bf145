"""Fixtures of the verifier's integration tests: the calc sample, its repository cache, fresh envs."""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_envs import PatchMaker, SampleEnvs, sample_tasks

from envfarm.models.task import SweTask
from envfarm.sandbox.local import find_bwrap
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import create_workspace
from envfarm.testing.samples import build_sample


@pytest.fixture(scope="session")
def calc_task() -> SweTask:
    return sample_tasks()["envfarm-samples__calc-3"]


@pytest.fixture(scope="session")
def repo_cache(tmp_path_factory: pytest.TempPathFactory) -> RepoCache:
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    root = tmp_path_factory.mktemp("verify-repos")
    cache = RepoCache(root / "repos")
    for name in ("calc",):
        build_sample(name, root / "src" / name)
        cache.add(f"envfarm-samples/{name}", root / "src" / name)
    return cache


@pytest.fixture
def envs(repo_cache: RepoCache, tmp_path: Path) -> SampleEnvs:
    return SampleEnvs(repo_cache, tmp_path / "ws")


@pytest.fixture(scope="session")
def make_patch(
    repo_cache: RepoCache, calc_task: SweTask, tmp_path_factory: pytest.TempPathFactory
) -> PatchMaker:
    """``make_patch({path: new content or None to delete})`` -> the git diff of that edit on the base."""
    import subprocess

    snapshot, sha = repo_cache.snapshot(calc_task.repo, calc_task.base_commit)
    scratch = create_workspace(snapshot, sha, tmp_path_factory.mktemp("patches") / "calc")

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(scratch), *args], capture_output=True, text=True, check=True)
        return done.stdout

    def make(edits: dict[str, str | None]) -> str:
        git("reset", "-q", "--hard", sha)
        git("clean", "-qfdx")
        for rel, content in edits.items():
            path = scratch / rel
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
        git("add", "-A")
        return git("diff", "--cached", "--binary", sha)

    return make
