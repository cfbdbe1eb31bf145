"""Policy jobs on kubesim in process mode, through the controller: `envfarm rollout run JOB --kubeconfig
--wait` submits a job whose agent is the fake OpenAI server's scripted solve of the calc sample; the
controller (the runners `envfarm controller run` builds) runs the agent loop against each env pod's
runtime, verifies the patch in a fresh verification pod, and stores the records: verdict pass, the
server's token ids and log-probabilities unchanged, the API key (from a Secret) nowhere. An env pod
killed mid-rollout is re-dispatched and its rollout completes on the next attempt."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from farm_home import CALC, sample_tasks
from podimages import ImageFiles, images
from policy_replies import dump, policy_job, sampled, served_tokens, solve

from envfarm.farm import crd, names
from envfarm.farm.controller import Options
from envfarm.farm.kube.policyenvs import PURPOSE, cluster_runners
from envfarm.farm.kube.service import ControllerThread, ServiceOptions
from envfarm.farm.tasks import StoreTasks
from envfarm.kubesim import LaunchSpec, RunningProcess
from envfarm.settings import Settings
from envfarm.store.records import RecordStore
from envfarm.testing.fake_openai import FakeOpenAI, FakeReply
from envfarm.testing.kubesim import KubeSimThread, fast_kubelet, raw_json

ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]
KEY = "sk-test-7f3a9c"


class Processes(ImageFiles):
    """The image launcher, remembering each container's process (to kill one as an OOM kill would)."""

    def __init__(self, home: Settings) -> None:
        super().__init__(home, sample_tasks())
        self.procs: dict[str, RunningProcess] = {}

    async def launch(self, spec: LaunchSpec) -> RunningProcess:
        proc = await super().launch(spec)
        self.procs[spec.name] = proc
        return proc

    def kill_env(self, pod: str) -> None:
        os.killpg(self.procs[f"default/{pod}/env"].pid, signal.SIGKILL)


class Cluster:
    def __init__(self, ks: KubeSimThread, launcher: Processes, home: Settings) -> None:
        self.ks, self.launcher, self.home = ks, launcher, home
        self.api = ks.api_client()

    def raw(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return raw_json(self.api, method, path, body)[1]

    def pods(self, purpose: str) -> list[dict[str, Any]]:
        found = self.raw("GET", "/api/v1/namespaces/default/pods").get("items", [])
        return [p for p in found if p["metadata"]["labels"].get(PURPOSE) == purpose]

    def rollout_run(
        self, tmp: Path, manifest: dict[str, Any], *, as_json: bool = True
    ) -> subprocess.CompletedProcess[str]:
        path = tmp / f"{manifest['metadata']['name']}.yaml"
        path.write_text(dump(manifest))
        args = ["rollout", "run", str(path), "--kubeconfig", str(self.ks.kubeconfig_path), "--wait"]
        env = {**os.environ, "ENVFARM_HOME": str(tmp / "client-home"), "COLUMNS": "250"}
        return subprocess.run(
            [*ENVFARM, *args, *(["--json"] if as_json else [])],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def cluster(local_home: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("policy-kubesim")
    launcher = Processes(local_home)
    with KubeSimThread(
        kubeconfig_path=tmp / "kubeconfig",
        nodes=2,
        mode="process",
        work_dir=tmp / "work",
        kubelet=fast_kubelet(backoff_s=0.3),
        launcher=launcher,
        images=images(),
    ) as ks:
        options = ServiceOptions(
            kubeconfig=tmp / "kubeconfig",
            qps=1000,
            leader_election=False,
            controller=Options(status_interval_s=0.3, max_pass_s=0.3),
        )
        tasks = StoreTasks(local_home)
        found = Cluster(ks, launcher, local_home)
        found.raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.build_crd())
        with ControllerThread(options, tasks, cluster_runners(options, tasks, local_home)):
            secret = {"token": base64.b64encode(KEY.encode()).decode()}
            found.raw(
                "POST",
                "/api/v1/namespaces/default/secrets",
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "llm"}, "data": secret},
            )
            yield found


def records(home: Settings, job: str) -> list[Any]:
    with RecordStore.open(home) as store:
        return list(store.records(job=job))


def test_policy_job_through_the_controller_records_pass_with_the_served_tokens(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(solve(), api_key=KEY) as server:
        manifest = policy_job("policy-solve", server.base_url, group_size=2)
        manifest["spec"]["agent"]["api_key_secret"] = {"name": "llm", "key": "token"}
        done = cluster.rollout_run(tmp_path, manifest)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["phase"] == "Succeeded"
    assert summary["record_stores"] == [str(cluster.home.home / "rollouts.db")]
    assert summary["rollouts"] == [f"policy-solve.{CALC}.0", f"policy-solve.{CALC}.1"]
    got = records(cluster.home, "policy-solve")
    assert [(r.sample_idx, r.verdict.outcome.value, r.verdict.reward) for r in got] == [
        (0, "pass", 1.0),
        (1, "pass", 1.0),
    ]
    per_turn = {tuple(r["prompt_token_ids"]): r for r in server.responses}  # both rollouts: same turns
    turns = sorted(per_turn.values(), key=lambda r: len(r["prompt_token_ids"]))
    for record in got:
        assert record.prompt_token_ids == turns[0]["prompt_token_ids"]
        assert sampled(record) == served_tokens(turns) and record.policy_version == "step-3"
        assert record.attempts == 1 and record.timings.verification_s > 0
    assert all(h["authorization"] == f"Bearer {KEY}" for h in server.headers)
    status = cluster.raw("GET", "/apis/envfarm.dev/v1alpha1/namespaces/default/rolloutjobs/policy-solve")
    leaks = [json.dumps(status), *(r.model_dump_json() for r in got), caplog.text, done.stdout, done.stderr]
    assert not [text for text in leaks if KEY in text]
    started = [s.name.split("/")[1] for s in cluster.launcher.specs if s.name.endswith("/env")]
    verify_pods = [p for p in started if re.fullmatch(r"policy-solve-[01]-0-v[0-9a-f]{6}", p)]
    assert len(verify_pods) == 2, f"one fresh verification pod per rollout: {started}"
    wait_gone(cluster, "verify")


def test_env_pod_killed_mid_rollout_is_redispatched(cluster: Cluster, tmp_path: Path) -> None:
    replies = solve()
    killed: list[str] = []

    def script(body: dict[str, Any]) -> FakeReply:
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if turn == 1 and not killed:  # after the first command: the env pod's container is killed
            pod = names.pod_name("policy-kill", 0, 0)
            cluster.launcher.kill_env(pod)
            killed.append(pod)
        return replies[turn] if turn < len(replies) else replies[-1]

    with FakeOpenAI(script) as server:
        done = cluster.rollout_run(tmp_path, policy_job("policy-kill", server.base_url), as_json=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"records: {cluster.home.home / 'rollouts.db'}" in done.stdout
    assert f"rollouts: policy-kill.{CALC}.0" in done.stdout and "pass" in done.stdout
    assert killed == ["policy-kill-0-0"]
    status = cluster.raw("GET", "/apis/envfarm.dev/v1alpha1/namespaces/default/rolloutjobs/policy-kill")[
        "status"
    ]
    assert status["counts"]["succeeded"] == 1 and status["counts"]["infra_errors"] == 0
    assert sum(status["infra_failures"].values()) == 1 and status["setup"]["attempted"] == 2
    [record] = records(cluster.home, "policy-kill")
    assert record.attempts == 2 and record.verdict is not None and record.verdict.outcome.value == "pass"
    assert record.steps == 4, "the re-dispatched rollout ran from the start in a new env pod"


def wait_gone(cluster: Cluster, purpose: str, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while [p for p in cluster.pods(purpose) if not p["metadata"].get("deletionTimestamp")]:
        assert time.time() < deadline, f"{purpose} pods left: {cluster.pods(purpose)}"
        time.sleep(0.1)
