"""Fixtures of the farm's integration tests: a kubesim with the CRD (farm_sim.Farm), a local home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from farm_sim import FAST, Farm

from envfarm.settings import Settings
from envfarm.testing.kubesim import KubeSimThread


@pytest.fixture
def farm(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Farm]:
    kubelet = getattr(request, "param", FAST)
    with KubeSimThread(kubeconfig_path=tmp_path / "kubeconfig", kubelet=kubelet, nodes=10) as ks:
        yield Farm(ks, tmp_path)


@pytest.fixture(scope="session")
def local_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One home for the local-backend tests (each uses its own job names): calc sample ready, no network."""
    from envfarm.sandbox.local import find_bwrap

    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    from farm_home import calc_home

    return calc_home(tmp_path_factory.mktemp("local-home"))
