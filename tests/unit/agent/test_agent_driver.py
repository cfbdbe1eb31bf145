"""The driver on in-memory environments: groups, concurrency, re-dispatch, dropped groups, deadlines."""

from __future__ import annotations

import asyncio

import pytest

from envfarm.agent.driver import RolloutDriver
from envfarm.agent.memory_env import MemoryEnvs, PatchVerifier
from envfarm.agent.scripted import ScriptedPolicy, bash, edit, submit
from envfarm.errors import ConfigError
from envfarm.models.job import PolicyAgent, ReplayAgent, RolloutJob, RolloutJobSpec
from envfarm.models.rollout import RolloutGroup, StopReason
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome

DIFF = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n"
FIX = [edit(command="str_replace", path="a.py", old_str="1", new_str="2"), bash("test"), submit()]


def tasks(n: int) -> list[SweTask]:
    return [
        SweTask(
            instance_id=f"o__r-{i}",
            repo="o/r",
            base_commit="abcdef0",
            patch=DIFF,
            test_patch="",
            problem_statement="p",
        )
        for i in range(n)
    ]


def job(**spec: object) -> RolloutJob:
    agent = spec.pop("agent", {})
    data = {
        "group_size": 2,
        "concurrency": 4,
        "retries": 1,
        **spec,
        "agent": {"kind": "policy", "backend": "scripted", **agent},
    }  # type: ignore[dict-item]
    return RolloutJob(name="job", spec=RolloutJobSpec.model_validate(data))


def make_driver(the_job: RolloutJob, **kwargs: object) -> RolloutDriver:
    return RolloutDriver(the_job, backoff_s=0.001, **kwargs)  # type: ignore[arg-type]


def fixed(patch: str) -> bool:
    return "+2" in patch


async def collect(driver: RolloutDriver, n: int) -> list[RolloutGroup]:
    return [g async for g in driver.run(tasks(n))]


async def test_groups_of_g_are_verified_and_named_deterministically() -> None:
    envs = MemoryEnvs({"a.py": "1\n"})
    driver = make_driver(
        job(group_size=3), envs=envs, verifier=PatchVerifier(fixed), policy=ScriptedPolicy(FIX)
    )
    groups = await collect(driver, 2)
    assert sorted(g.group_id for g in groups) == ["job.o__r-0", "job.o__r-1"]
    for group in groups:
        assert [r.sample_idx for r in group.records] == [0, 1, 2]
        assert {r.rollout_id for r in group.records} == {f"{group.group_id}.{i}" for i in range(3)}
        assert all(
            r.verdict and r.verdict.outcome is Outcome.passed and r.attempts == 1 for r in group.records
        )
    assert driver.stats.groups_completed == 2 and driver.stats.rollouts_completed == 6
    assert envs.live == 0 and envs.ups == 6


async def test_concurrency_bounds_live_environments() -> None:
    envs = MemoryEnvs({"a.py": "1\n"}, exec_s=0.01)
    policy = ScriptedPolicy(FIX, latency_s=0.005)
    driver = make_driver(
        job(group_size=2, concurrency=3), envs=envs, verifier=PatchVerifier(fixed), policy=policy
    )
    groups = await collect(driver, 6)
    assert len(groups) == 6 and envs.peak == 3


async def test_env_that_never_comes_up_is_redispatched() -> None:
    envs = MemoryEnvs({"a.py": "1\n"}, fail_up=lambda task, n: n in (0, 3))
    driver = make_driver(job(retries=1), envs=envs, verifier=PatchVerifier(fixed), policy=ScriptedPolicy(FIX))
    groups = await collect(driver, 2)
    assert len(groups) == 2 and driver.stats.redispatched == 2
    assert driver.stats.infra_failures["env_up"] == 2
    assert sorted(r.attempts for g in groups for r in g.records) == [1, 1, 2, 2]


async def test_env_lost_mid_rollout_is_redispatched() -> None:
    envs = MemoryEnvs({"a.py": "1\n"}, lose_after=lambda task, n: 0 if n == 0 else None)
    driver = make_driver(
        job(group_size=1), envs=envs, verifier=PatchVerifier(fixed), policy=ScriptedPolicy(FIX)
    )
    [group] = await collect(driver, 1)
    assert group.records[0].attempts == 2 and driver.stats.infra_failures["env_lost"] == 1


async def test_unrecoverable_sample_drops_its_whole_group_and_only_it() -> None:
    doomed = "o__r-1"
    envs = MemoryEnvs({"a.py": "1\n"}, fail_up=lambda task, n: task.instance_id == doomed)
    verifier = PatchVerifier(fixed)
    driver = make_driver(job(retries=2), envs=envs, verifier=verifier, policy=ScriptedPolicy(FIX))
    groups = await collect(driver, 3)
    assert sorted(g.task_id for g in groups) == ["o__r-0", "o__r-2"]
    assert driver.stats.groups_dropped == 1 and "job.o__r-1" in driver.stats.dropped
    assert driver.stats.dropped_tasks["job.o__r-1"] == doomed
    assert "failed 3 times" in driver.stats.dropped["job.o__r-1"]
    assert verifier.calls == 4  # nothing of the dropped group was scored
    assert envs.live == 0


async def test_verification_infra_errors_are_retried_then_drop_the_group() -> None:
    envs = MemoryEnvs({"a.py": "1\n"})
    driver = make_driver(
        job(group_size=1, retries=1),
        envs=envs,
        verifier=PatchVerifier(fixed, infra_errors=1),
        policy=ScriptedPolicy(FIX),
    )
    [group] = await collect(driver, 1)
    assert group.records[0].verdict is not None and driver.stats.infra_failures["verify"] == 1
    driver = make_driver(
        job(group_size=1, retries=1),
        envs=envs,
        verifier=PatchVerifier(fixed, infra_errors=9),
        policy=ScriptedPolicy(FIX),
    )
    assert await collect(driver, 1) == [] and "infra_error" in driver.stats.dropped["job.o__r-0"]


async def test_group_deadline_stops_stragglers_which_are_still_verified() -> None:
    def script(messages: list[dict[str, object]]) -> object:
        return bash("again")

    policy = ScriptedPolicy(script, latency_s=0.02)  # never submits
    agent = {"group_timeout_s": 0.2, "max_steps": 10_000}
    driver = make_driver(
        job(group_size=2, agent=agent),
        envs=MemoryEnvs({"a.py": "1\n"}),
        verifier=PatchVerifier(fixed),
        policy=policy,
    )  # type: ignore[arg-type]
    started = asyncio.get_running_loop().time()
    [group] = await collect(driver, 1)
    assert asyncio.get_running_loop().time() - started < 1.0
    assert all(r.stop_reason is StopReason.wall_time and r.truncated for r in group.records)
    assert all(r.verdict is not None and r.verdict.outcome is Outcome.failed for r in group.records)


async def test_a_sample_that_cannot_start_before_the_deadline_drops_the_group() -> None:
    envs = MemoryEnvs({"a.py": "1\n"}, fail_up=lambda task, n: True)
    agent = {"group_timeout_s": 0.05}
    driver = make_driver(
        job(group_size=1, retries=1000, agent=agent),
        envs=envs,
        verifier=PatchVerifier(fixed),
        policy=ScriptedPolicy(FIX),
    )
    assert await collect(driver, 1) == []
    assert "deadline" in driver.stats.dropped["job.o__r-0"]


async def test_job_timeout_counts_unfinished_groups_as_dropped() -> None:
    policy = ScriptedPolicy(lambda m: bash("x"), latency_s=0.05)
    driver = make_driver(
        job(timeout_s=1, agent={"max_steps": 10_000}),
        envs=MemoryEnvs({}),
        verifier=PatchVerifier(fixed),
        policy=policy,
    )
    assert await collect(driver, 2) == []
    assert driver.stats.groups_dropped == 2 and "spec.timeout_s" in driver.stats.dropped["job.o__r-0"]


async def test_stopping_the_iteration_cancels_the_rest() -> None:
    envs = MemoryEnvs({"a.py": "1\n"}, exec_s=0.01)
    driver = make_driver(
        job(group_size=1, concurrency=1), envs=envs, verifier=PatchVerifier(fixed), policy=ScriptedPolicy(FIX)
    )
    async for _ in driver.run(tasks(50)):
        break
    await asyncio.sleep(0.05)
    assert envs.live == 0 and driver.stats.groups_completed < 5


def test_only_policy_agents_are_driven() -> None:
    bad = RolloutJob(name="j", spec=RolloutJobSpec(agent=ReplayAgent()))
    with pytest.raises(ConfigError, match="policy"):
        RolloutDriver(bad, envs=MemoryEnvs({}), verifier=PatchVerifier(fixed), policy=ScriptedPolicy([]))
    assert isinstance(job().spec.agent, PolicyAgent)
