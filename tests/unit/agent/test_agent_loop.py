"""The agent loop on an in-memory environment: tools, limits, malformed calls, a lost environment."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from envfarm.agent.loop import Agent, AgentLimits
from envfarm.agent.memory_env import MemorySandbox
from envfarm.agent.policy import Completion, Message
from envfarm.agent.scripted import Reply, ScriptedPolicy, bash, edit, raw, submit
from envfarm.errors import ContextLengthExceeded, RuntimeUnreachable
from envfarm.models.rollout import StopReason
from envfarm.sandbox.wire import ExecResult

START: list[Message] = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
FILES = {"src/a.py": "def f():\n    return 1\n"}


async def run(policy: Any, env: MemorySandbox | None = None, **limits: Any) -> tuple[Any, MemorySandbox]:
    env = env or MemorySandbox(FILES)
    episode = await Agent(env, policy, AgentLimits(**limits), workdir="/testbed").run(list(START))
    return episode, env


async def test_edits_then_submit_give_the_diff() -> None:
    policy = ScriptedPolicy(
        [
            edit(command="view", path="/testbed/src/a.py"),
            edit(command="str_replace", path="src/a.py", old_str="return 1", new_str="return 2"),
            edit(command="insert", path="src/a.py", insert_line=0, new_str="# top"),
            edit(command="create", path="NEW.md", file_text="hello\n"),
            bash("pytest -q"),
            submit(),
        ]
    )
    episode, env = await run(policy)
    assert episode.stop_reason is StopReason.submitted and episode.steps == 6 and not episode.truncated
    assert env.files["src/a.py"] == b"# top\ndef f():\n    return 2\n"
    assert "+    return 2" in episode.patch and "new file mode" in episode.patch and "+hello" in episode.patch
    tools = [t for t in episode.turns if t.role == "tool"]
    assert tools[0].content == "1\tdef f():\n2\t    return 1"
    assert tools[4].content == "ran: pytest -q\n[exit code 0]" and tools[4].exit_code == 0
    assert [t.role for t in episode.turns[:4]] == ["system", "user", "assistant", "tool"]


async def test_editor_mistakes_are_observations() -> None:
    policy = ScriptedPolicy(
        [
            edit(command="view", path="missing.py"),
            edit(command="str_replace", path="src/a.py", old_str="nope", new_str="x"),
            edit(command="insert", path="src/a.py", insert_line=99, new_str="x"),
            submit(),
        ]
    )
    episode, _ = await run(policy)
    tools = [t.content for t in episode.turns if t.role == "tool"]
    assert tools[0] == "Error: view missing.py: no such file or directory"
    assert "old_str was not found" in tools[1] and "insert_line 99 is outside [0, 2]" in tools[2]
    assert episode.patch == "" and episode.stop_reason is StopReason.submitted


async def test_malformed_and_missing_tool_calls_do_not_end_the_episode() -> None:
    script = [raw("bash", "{"), Reply(content="thinking"), raw("nope", "{}"), submit()]
    episode, _ = await run(ScriptedPolicy(script))
    assert episode.stop_reason is StopReason.submitted and episode.malformed == 3
    assert [t.error for t in episode.turns if t.error] == ["malformed", "no_tool_call", "malformed"]


async def test_max_steps_stops_and_still_takes_the_diff() -> None:
    policy = ScriptedPolicy(
        lambda messages: edit(command="create", path="x.txt", file_text=str(len(messages)))
    )
    episode, _ = await run(policy, max_steps=3)
    assert episode.stop_reason is StopReason.max_steps and episode.steps == 3 and episode.truncated
    assert "b/x.txt" in episode.patch


class Counting:
    """A policy whose completions count ``tokens`` each and that records the max_tokens it was given."""

    version = "counting"

    def __init__(self, tokens: int, error_at: int | None = None) -> None:
        self.tokens, self.error_at, self.asked = tokens, error_at, []

    async def complete(
        self, messages: list[Message], tools: Any, *, max_tokens: int | None = None
    ) -> Completion:
        self.asked.append(max_tokens)
        if self.error_at is not None and len(self.asked) > self.error_at:
            raise ContextLengthExceeded("maximum context length is 10 tokens")
        call = bash("ls").calls[0]
        from envfarm.models.rollout import ToolCall

        return Completion(
            tool_calls=[ToolCall(id="c", name=call[0], arguments=call[1])], completion_tokens=self.tokens
        )

    async def aclose(self) -> None:
        return None


async def test_token_budget_and_context_length_end_the_episode_truncated() -> None:
    policy = Counting(tokens=40)
    episode, _ = await run(policy, max_tokens=100, max_tokens_per_turn=50)
    assert episode.stop_reason is StopReason.max_tokens and episode.generated == 120
    assert policy.asked == [50, 50, 20]
    episode, _ = await run(Counting(tokens=1, error_at=2), max_steps=10)
    assert episode.stop_reason is StopReason.max_tokens and episode.steps == 2


async def test_wall_time_cuts_a_slow_policy() -> None:
    policy = ScriptedPolicy(lambda m: bash("ls"), latency_s=0.05)
    episode, _ = await run(policy, wall_time_s=0.18, max_steps=100)
    assert episode.stop_reason is StopReason.wall_time and 2 <= episode.steps <= 4


async def test_command_timeout_is_an_observation() -> None:
    def slow(cmd: str) -> ExecResult:
        return ExecResult(exit_code=-9, stdout="partial", stderr="", timed_out=True)

    env = MemorySandbox(FILES, answer=slow)
    episode, _ = await run(ScriptedPolicy([bash("sleep 999")]), env, command_timeout_s=2)
    tool = next(t for t in episode.turns if t.role == "tool")
    assert "ran past 2s and was killed" in tool.content and tool.exit_code is None


async def test_a_lost_environment_escapes_as_infrastructure() -> None:
    env = MemorySandbox(FILES, lose_after=1)
    with pytest.raises(RuntimeUnreachable):
        await run(ScriptedPolicy([bash("a"), bash("b"), submit()]), env)


async def test_long_output_is_clipped() -> None:
    env = MemorySandbox(FILES, answer=lambda cmd: ExecResult(exit_code=0, stdout="y" * 50_000, stderr=""))
    episode, _ = await run(ScriptedPolicy([bash("yes")]), env, max_observation_chars=1000)
    tool = next(t for t in episode.turns if t.role == "tool")
    assert len(tool.content) <= 1000 and "characters cut" in tool.content


def test_limits_come_from_the_job() -> None:
    from envfarm.models.job import PolicyAgent

    limits = AgentLimits.of(PolicyAgent(max_steps=7, max_tokens=99, wall_time_s=5, command_timeout_s=3))
    assert (limits.max_steps, limits.max_tokens, limits.wall_time_s, limits.command_timeout_s) == (
        7,
        99,
        5,
        3,
    )
    assert asyncio.iscoroutinefunction(Agent.run)
