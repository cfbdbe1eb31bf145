"""The policy runner's parts without a cluster: infrastructure failures surface as infrastructure failures
(never a verdict), the job's policy is shared and its key taken from a Secret, records are stored as
whole groups, and verification pods get names of their own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from envfarm.agent.memory_env import MemoryEnvs, MemorySandbox
from envfarm.errors import ConfigError, PolicyError, SandboxError
from envfarm.farm import names, podspec
from envfarm.farm.agents import EnvHandle
from envfarm.farm.kube.policyenvs import PURPOSE, verify_pod, verify_pod_name
from envfarm.farm.kube.policyenvs import _api as policy_api
from envfarm.farm.kube.service import ServiceOptions
from envfarm.farm.policypool import SECRET_VAR, PolicyPool
from envfarm.farm.policyrecords import GroupRecords
from envfarm.farm.policyrunner import NOTE, PolicyRunner, record_of
from envfarm.models.job import PolicyAgent, RolloutJobSpec, SecretRef, TaskSelector
from envfarm.models.rollout import RolloutRecord
from envfarm.models.task import SweTask, parse_task
from envfarm.settings import Settings
from envfarm.store.records import RecordStore
from envfarm.testing.samples import SAMPLES_DIR

CALC = "envfarm-samples__calc-3"


class Tasks:
    def __init__(self) -> None:
        rows = [json.loads(line) for line in (SAMPLES_DIR / "tasks.jsonl").read_text().splitlines() if line]
        self.tasks = {t.instance_id: t for t in map(parse_task, rows) if isinstance(t, SweTask)}

    def resolve(self, selector: TaskSelector) -> list[str]:
        return list(selector.ids)

    def get(self, task_id: str) -> SweTask:
        return self.tasks[task_id]

    def image(self, task_id: str) -> str:
        return ""


def handle(spec: RolloutJobSpec, env: MemorySandbox, sample: int = 0) -> EnvHandle:
    return EnvHandle("ns/j", spec, CALC, sample, 0, env, time.time())


def scripted_spec(tmp: Path, script: str, **spec: object) -> RolloutJobSpec:
    (tmp / "script.yaml").write_text(script)
    agent = PolicyAgent(backend="scripted", script=str(tmp / "script.yaml"))
    return RolloutJobSpec(agent=agent, retries=1, **spec)  # type: ignore[arg-type]


def runner(tmp: Path, fresh: MemoryEnvs) -> PolicyRunner:
    return PolicyRunner(Tasks(), Settings(home=tmp / "home"), lambda env: fresh, environ={})


async def test_env_lost_mid_episode_is_raised_as_an_infrastructure_failure(tmp_path: Path) -> None:
    spec = scripted_spec(tmp_path, "- bash: ls\n- bash: ls\n- submit: true\n")
    env = MemorySandbox({"a.py": "x = 1\n"}, lose_after=2)  # the reset, one command, then gone
    fresh = MemoryEnvs({"a.py": "x = 1\n"})
    with pytest.raises(SandboxError, match="is gone"):
        await runner(tmp_path, fresh).run(handle(spec, env))
    assert fresh.ups == 0, "nothing was verified"


async def test_policy_endpoint_down_is_an_infrastructure_failure(tmp_path: Path) -> None:
    agent = PolicyAgent(endpoint="http://127.0.0.1:9/v1", model="m", request_retries=0)
    spec = RolloutJobSpec(agent=agent)
    with pytest.raises(PolicyError, match=r"127\.0\.0\.1:9"):
        await runner(tmp_path, MemoryEnvs({})).run(handle(spec, MemorySandbox({})))


async def test_verification_env_that_never_comes_up_is_an_infrastructure_failure(tmp_path: Path) -> None:
    spec = scripted_spec(tmp_path, "- submit: true\n")
    fresh = MemoryEnvs({}, fail_up=lambda task, n: True)
    the_runner = runner(tmp_path, fresh)
    with pytest.raises(SandboxError, match=r"verification kept failing.*did not come up"):
        await the_runner.run(handle(spec, MemorySandbox({})))
    assert fresh.ups == 2, "retries + 1 fresh envs were asked for"
    with RecordStore.open(the_runner.settings) as store:
        assert list(store.records()) == []


async def test_a_job_that_cannot_run_ends_as_infra_error_naming_the_field(tmp_path: Path) -> None:
    spec = RolloutJobSpec(agent=PolicyAgent(backend="scripted"))
    result = await runner(tmp_path, MemoryEnvs({})).run(handle(spec, MemorySandbox({})))
    assert result.outcome == "infra_error" and result.reward is None and "agent.script" in result.reason


async def test_secret_key_reaches_only_the_policy_and_policies_are_shared_per_job() -> None:
    asked: list[tuple[str, str]] = []

    async def secrets(namespace: str, ref: SecretRef) -> str:
        asked.append((namespace, ref.name))
        return "sk-unit"

    pool = PolicyPool(secrets=secrets, environ={})
    agent = PolicyAgent(endpoint="http://127.0.0.1:9/v1", api_key_secret=SecretRef(name="llm", key="k"))
    async with pool.use("ns/j", "ns", agent) as one, pool.use("ns/j", "ns", agent) as two:
        assert one is two and asked == [("ns", "llm")]
        assert one._http.headers["authorization"] == "Bearer sk-unit"  # type: ignore[attr-defined]
    async with pool.use("ns/j", "ns", agent.model_copy(update={"temperature": 0.5})) as three:
        assert three is not one and one._http.is_closed  # type: ignore[attr-defined]
    assert SECRET_VAR not in __import__("os").environ
    await pool.aclose()
    assert three._http.is_closed  # type: ignore[attr-defined]


async def test_secret_without_a_cluster_is_a_config_error() -> None:
    pool = PolicyPool(secrets=None, environ={})
    agent = PolicyAgent(endpoint="http://127.0.0.1:9/v1", api_key_secret=SecretRef(name="llm", key="k"))
    with pytest.raises(ConfigError, match="api_key_env"):
        async with pool.use("j", "", agent):
            pass


def record(sample: int, patch: str = "") -> RolloutRecord:
    return RolloutRecord(
        rollout_id=f"j.t.{sample}", job="j", task_id="t", group_id="j.t", sample_idx=sample, patch=patch
    )


async def test_records_are_stored_as_whole_groups_and_a_rerun_replaces_its_record(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    sink = GroupRecords(settings)
    assert await sink.add(record(1), 2) is False
    with RecordStore.open(settings) as store:
        assert store.counts("j") == {"complete": 0, "dropped": 0}
    assert await sink.add(record(0), 2) is True
    assert await sink.add(record(1, patch="again"), 2) is True
    sink.close()
    with RecordStore.open(settings) as store:
        assert [(r.sample_idx, r.patch) for r in store.group("j.t").records] == [(0, ""), (1, "again")]
    assert not (sink.staged / "j.t").exists()


async def test_a_group_given_up_is_dropped_and_takes_no_later_record(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    sink = GroupRecords(settings)
    assert await sink.add(record(0), 2) is False  # staged
    await sink.drop("j", "t", "sample 1: oom: killed")
    await sink.drop("j", "t", "sample 0: again")  # a second sample giving up changes nothing
    assert not (sink.staged / "j.t").exists()
    assert await sink.add(record(0, patch="late"), 2) is False, "a dropped group is never completed"
    sink.close()
    with RecordStore.open(settings) as store:
        assert store.counts("j") == {"complete": 0, "dropped": 1}
        [group] = store.groups(job="j")
        assert group.reason == "sample 1: oom: killed"
    assert not (sink.staged / "j.t").exists()


def test_record_note_round_trip_and_verify_pod_names() -> None:
    note = NOTE.format(rollout_id="j.t.0", db="/home/x/rollouts.db")
    assert record_of(f"{note}: 3 of 3 tests pass") == ("j.t.0", "/home/x/rollouts.db")
    assert record_of("env lost: boom") is None and record_of("") is None
    short, other = verify_pod_name("job", 1, 2), verify_pod_name("job", 1, 2)
    assert short.startswith("job-1-2-v") and short != other
    long = verify_pod_name("x" * 80, 12, 3)
    assert len(long) <= names.MAX_NAME and long != names.pod_name("x" * 80, 12, 3)


def test_verification_pod_is_an_isolated_env_pod_the_controller_does_not_track() -> None:
    pod = podspec.EnvPod("j", "ns", "uid-9", CALC, 0, 1, 2, "python:3.11-slim")
    env_body = podspec.env_pod(pod, RolloutJobSpec(), "envfarm:1")
    body = verify_pod(pod, RolloutJobSpec(), "envfarm:1")
    labels = body["metadata"]["labels"]
    assert labels[names.ROLE] == names.ENV_ROLE, "the env pods' NetworkPolicy (role=env) isolates it"
    selector = dict(part.split("=") for part in names.ENV_SELECTOR.split(","))
    assert any(labels.get(k) != v for k, v in selector.items()), "the controller's informer skips it"
    assert labels[PURPOSE] == "verify" and body["metadata"]["ownerReferences"][0]["uid"] == "uid-9"
    assert body["metadata"]["name"].startswith("j-1-2-v") and body["spec"] == env_body["spec"]


def test_verification_clients_draw_from_the_controllers_one_budget(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    options = ServiceOptions(kubeconfig=kubeconfig, qps=50, burst=5)
    assert options.bucket() is options.bucket() and options.bucket().qps == 50
    assert policy_api(options).bucket is options.bucket(), "verification pods spend the --qps budget too"
