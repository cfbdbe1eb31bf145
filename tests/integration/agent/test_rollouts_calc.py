"""Rollouts on the calc sample task in real bubblewrap environments, verified by the test verifier.

A scripted policy that fixes median() passes and one that breaks it fails; the fake OpenAI server's token
ids and log-probabilities reach the stored record unchanged; malformed tool calls are answered, not fatal;
an environment killed mid-rollout is re-dispatched; a group whose sample cannot finish is dropped whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from agent_envs import BUGGY_RETURN, FIXED_RETURN, STATS, WRONG_RETURN, EnvsFactory, SampleEnvs

from envfarm.agent.driver import RolloutDriver
from envfarm.agent.openai_policy import OpenAIPolicy
from envfarm.agent.policy import Policy
from envfarm.agent.scripted import Reply, ScriptedPolicy, bash, edit, submit
from envfarm.models.job import PolicyAgent, RolloutJob, RolloutJobSpec
from envfarm.models.rollout import RolloutGroup, StopReason
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome
from envfarm.store.records import RecordStore
from envfarm.testing.fake_openai import END, FakeOpenAI, FakeReply
from envfarm.verify.tests import TestVerifier


def script(new_return: str) -> list[Reply]:
    return [
        edit(command="view", path=STATS),
        edit(command="str_replace", path=f"/testbed/{STATS}", old_str=BUGGY_RETURN, new_str=new_return),
        bash("PYTHONPATH=src python -c 'from calc.stats import median; print(median([4, 1, 3, 2]))'"),
        submit(),
    ]


def job(
    name: str, *, group_size: int = 1, concurrency: int = 2, retries: int = 2, **agent: object
) -> RolloutJob:
    spec = RolloutJobSpec(
        group_size=group_size,
        concurrency=concurrency,
        retries=retries,
        retry_backoff_s=0.05,
        agent=PolicyAgent.model_validate({"backend": "scripted", "command_timeout_s": 60, **agent}),
    )
    return RolloutJob(name=name, spec=spec)


async def run(
    the_job: RolloutJob, task: SweTask, envs: SampleEnvs, verify_envs: SampleEnvs, policy: Policy, tmp: Path
) -> tuple[RolloutDriver, list[RolloutGroup]]:
    verifier = TestVerifier(verify_envs, tmp / "artifacts")
    driver = RolloutDriver(the_job, envs=envs, verifier=verifier, policy=policy)
    groups = [group async for group in driver.run([task])]
    assert envs.live == 0 and verify_envs.live == 0  # every environment was taken down
    return driver, groups


async def test_scripted_fix_passes_and_scripted_break_fails(
    calc_task: SweTask, make_envs: EnvsFactory, tmp_path: Path
) -> None:
    envs, verify_envs = make_envs(), make_envs()
    _, [good] = await run(
        job("good"), calc_task, envs, verify_envs, ScriptedPolicy(script(FIXED_RETURN)), tmp_path
    )
    _, [bad] = await run(
        job("bad"), calc_task, envs, verify_envs, ScriptedPolicy(script(WRONG_RETURN)), tmp_path
    )
    [passed], [failed] = good.records, bad.records
    assert (
        passed.verdict is not None
        and passed.verdict.outcome is Outcome.passed
        and passed.verdict.reward == 1.0
    )
    assert (
        failed.verdict is not None
        and failed.verdict.outcome is Outcome.failed
        and failed.verdict.reward == 0.0
    )
    assert passed.stop_reason is StopReason.submitted and passed.steps == 4 and not passed.truncated
    assert "+    middle = len(ordered) // 2" in passed.patch and "b/src/calc/stats.py" in passed.patch
    tools = [t for t in passed.turns if t.role == "tool"]
    assert "return ordered[len(ordered) // 2]" in tools[0].content  # the view, numbered
    assert tools[2].content.startswith("2.5") and tools[2].exit_code == 0
    assert passed.timings.verification_s > 0 and passed.timings.environment_s > 0


async def test_fake_openai_token_ids_and_logprobs_reach_the_record_unchanged(
    calc_task: SweTask, make_envs: EnvsFactory, tmp_path: Path
) -> None:
    replies = [
        FakeReply(content="Looking first.", tool_calls=(("bash", json.dumps({"command": f"cat {STATS}"})),)),
        FakeReply(tool_calls=(("bash", '{"command": "ls", }'),)),  # malformed JSON: answered, not fatal
        FakeReply(content="no tool this time"),
        FakeReply(tool_calls=(("grep", "{}"),)),
        FakeReply(
            tool_calls=(("str_replace_based_edit_tool", json.dumps({"command": "insert", "path": STATS})),)
        ),
        FakeReply(
            tool_calls=(
                (
                    "str_replace_based_edit_tool",
                    json.dumps(
                        {
                            "command": "str_replace",
                            "path": STATS,
                            "old_str": BUGGY_RETURN,
                            "new_str": FIXED_RETURN,
                        }
                    ),
                ),
            )
        ),
        FakeReply(tool_calls=(("submit", "{}"),)),
    ]
    with FakeOpenAI(replies, api_key="k-123") as server:
        agent = dict(backend="openai", endpoint=server.base_url, model="fake-model", policy_version="step-7")
        the_job = job("fake", **agent)
        policy = OpenAIPolicy(the_job.spec.agent, api_key="k-123")  # type: ignore[arg-type]
        _, [group] = await run(the_job, calc_task, make_envs(), make_envs(), policy, tmp_path)
        await policy.aclose()
    [record] = group.records
    assert record.verdict is not None and record.verdict.outcome is Outcome.passed
    assert record.policy_version == "step-7" and record.metrics["malformed_calls"] == 4
    errored = [t for t in record.turns if t.error]
    assert [t.error for t in errored] == ["malformed", "no_tool_call", "malformed", "malformed"]
    assert "not valid JSON" in errored[0].content and "No tool call" in errored[1].content
    assert (
        "unknown tool 'grep'" in errored[2].content
        and "insert needs insert_line, new_str" in errored[3].content
    )
    assert_tokens_as_served(
        record.prompt_token_ids,
        record.response_token_ids,
        record.loss_mask,
        record.rollout_logprobs,
        server.responses,
    )
    assert all("k-123" not in json.dumps(t.model_dump()) for t in record.turns)
    with RecordStore(tmp_path / "rollouts.db", tmp_path / "artifacts") as store:
        store.put_group(group)
        again = store.get(record.rollout_id)
        assert again == record
        store.export_jsonl(tmp_path / "out.jsonl")
        store.export_parquet(tmp_path / "out.parquet")
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert line["response_token_ids"] == record.response_token_ids
    assert line["rollout_logprobs"] == record.rollout_logprobs
    row = pq.read_table(tmp_path / "out.parquet").to_pylist()[0]
    assert row["rollout_logprobs"] == record.rollout_logprobs and row["loss_mask"] == record.loss_mask
    assert row["prompt_token_ids"] == record.prompt_token_ids


def assert_tokens_as_served(
    prompt: list[int],
    response: list[int],
    mask: list[int],
    logprobs: list[float],
    served: list[dict[str, object]],
) -> None:
    """Sampled tokens are the server's, in order, with its log-probs; the rest is the server's prompts."""
    assert prompt == served[0]["prompt_token_ids"]
    sampled = [(t, lp) for t, m, lp in zip(response, mask, logprobs, strict=True) if m == 1]
    expected = []
    for answer in served:
        choice = answer["choices"][0]  # type: ignore[index]
        ids = choice["token_ids"]
        lps = [e["logprob"] for e in choice["logprobs"]["content"]]
        assert [int(e["token"].split(":")[1]) for e in choice["logprobs"]["content"]] == ids
        assert ids[-1] == END
        expected += list(zip(ids, lps, strict=True))
    assert sampled == expected
    full = prompt + response
    last = served[-1]
    assert full[: len(last["prompt_token_ids"])] == last["prompt_token_ids"]  # type: ignore[arg-type]
    assert all(lp == 0.0 for lp, m in zip(logprobs, mask, strict=True) if m == 0)


async def test_env_killed_mid_rollout_is_redispatched(
    calc_task: SweTask, make_envs: EnvsFactory, tmp_path: Path
) -> None:
    envs = make_envs(kill_after=lambda n: 1 if n == 0 else None)  # the first env dies at its 2nd command
    policy = ScriptedPolicy([bash("true"), *script(FIXED_RETURN)])
    driver, [group] = await run(job("killed"), calc_task, envs, make_envs(), policy, tmp_path)
    [record] = group.records
    assert record.attempts == 2 and record.verdict is not None and record.verdict.outcome is Outcome.passed
    assert driver.stats.infra_failures["env_lost"] == 1 and driver.stats.redispatched == 1
    assert envs.started == 2


async def test_group_with_unrecoverable_infra_failure_is_dropped_whole(
    calc_task: SweTask, make_envs: EnvsFactory, tmp_path: Path
) -> None:
    envs = make_envs(kill_after=lambda n: None if n == 0 else 0)  # only the first env ever works
    the_job = job("doomed", group_size=2, concurrency=1, retries=1)
    driver, groups = await run(
        the_job, calc_task, envs, make_envs(), ScriptedPolicy(script(FIXED_RETURN)), tmp_path
    )
    assert groups == []  # sample 0 finished and passed, but its group is never handed out
    assert driver.stats.groups_dropped == 1 and driver.stats.groups_completed == 0
    assert "sample 1 failed 2 times" in driver.stats.dropped["doomed.envfarm-samples__calc-3"]
    assert driver.stats.infra_failures["env_lost"] == 2 and envs.started == 3
