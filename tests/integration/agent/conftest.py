"""Fixtures of the rollout integration tests: the calc sample, its repository cache, fresh envs."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_envs import CALC, EnvsFactory, SampleEnvs, sample_tasks

from envfarm.models.task import SweTask
from envfarm.sandbox.local import find_bwrap
from envfarm.sandbox.repos import RepoCache
from envfarm.testing.samples import build_sample


@pytest.fixture(scope="session")
def calc_task() -> SweTask:
    return sample_tasks()[CALC]


@pytest.fixture(scope="session")
def repo_cache(tmp_path_factory: pytest.TempPathFactory) -> RepoCache:
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    root = tmp_path_factory.mktemp("agent-repos")
    cache = RepoCache(root / "repos")
    build_sample("calc", root / "src" / "calc")
    cache.add("envfarm-samples/calc", root / "src" / "calc")
    return cache


@pytest.fixture
def make_envs(repo_cache: RepoCache, tmp_path: Path) -> EnvsFactory:
    """``make_envs(kill_after=...)``: a provider of fresh calc environments under this test's tmp_path."""
    count = iter(range(1000))

    def make(**kwargs: object) -> SampleEnvs:
        return SampleEnvs(repo_cache, tmp_path / f"ws{next(count)}", **kwargs)  # type: ignore[arg-type]

    return make
