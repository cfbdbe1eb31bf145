"""Fixtures: a kubesim with fast kubelets in a background thread, and official clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envfarm.testing.kubesim import KubeSimThread, fast_kubelet, kubesim_fixture

kubernetes = pytest.importorskip("kubernetes", reason="the official client comes with the k8s extra")


@pytest.fixture
def ks(tmp_path: Path) -> Iterator[KubeSimThread]:
    yield from kubesim_fixture(tmp_path, nodes=2, kubelet=fast_kubelet(), bookmark_interval_s=0.2)


@pytest.fixture
def api(ks: KubeSimThread) -> Any:
    return ks.api_client()


@pytest.fixture
def v1(api: Any) -> Any:
    return kubernetes.client.CoreV1Api(api)
