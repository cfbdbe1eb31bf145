"""The agent loop: the policy picks tool calls, the environment answers, until submit or a limit.

Limits: steps (policy calls), tokens generated in the episode, wall time (the agent's own and the group's
deadline, whichever is first) and time per command. Whatever way it stops, the final patch is the
environment's diff against the base commit. A malformed tool call is answered as an observation. What
escapes is the infrastructure's fault only: a SandboxError (environment lost) or PolicyUnavailable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from envfarm.agent.editor import Tools
from envfarm.agent.policy import Completion, Message, Policy, assistant_message
from envfarm.agent.tokens import TokenTrace
from envfarm.agent.tools import BASH, EDITOR, SUBMIT, TOOLS, Action, BashArgs, EditArgs, parse_call
from envfarm.errors import ContextLengthExceeded
from envfarm.models.job import PolicyAgent
from envfarm.models.rollout import StopReason, ToolCall, Turn
from envfarm.sandbox.protocol import Sandbox

log = logging.getLogger(__name__)
NO_TOOL_CALL = (
    "No tool call found in your message. Act through the tools: bash, str_replace_based_edit_tool, "
    "or submit when you are done."
)
DIFF_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class AgentLimits:
    max_steps: int = 30
    max_tokens: int = 32768
    max_tokens_per_turn: int | None = None
    wall_time_s: float = 1800.0
    command_timeout_s: float = 120.0
    max_observation_chars: int = 16000

    @classmethod
    def of(cls, agent: PolicyAgent) -> AgentLimits:
        return cls(
            max_steps=agent.max_steps,
            max_tokens=agent.max_tokens,
            max_tokens_per_turn=agent.max_tokens_per_turn,
            wall_time_s=agent.wall_time_s,
            command_timeout_s=agent.command_timeout_s,
            max_observation_chars=agent.max_observation_chars,
        )


@dataclass
class Episode:
    turns: list[Turn] = field(default_factory=list)
    trace: TokenTrace = field(default_factory=TokenTrace)
    patch: str = ""
    stop_reason: StopReason = StopReason.max_steps
    steps: int = 0
    generated: int = 0
    malformed: int = 0
    generation_s: float = 0.0
    environment_s: float = 0.0

    @property
    def truncated(self) -> bool:
        return self.stop_reason is not StopReason.submitted


class Agent:
    """One episode of ``policy`` on ``env``: ``await Agent(...).run(messages)``."""

    def __init__(self, env: Sandbox, policy: Policy, limits: AgentLimits, *, workdir: str) -> None:
        self.env, self.policy, self.limits = env, policy, limits
        self.tools = Tools(
            env,
            workdir=workdir,
            command_timeout_s=limits.command_timeout_s,
            limit=limits.max_observation_chars,
        )

    async def run(self, messages: list[Message], *, deadline: float | None = None) -> Episode:
        """Run until submit or a limit; ``deadline`` (time.monotonic) cuts the wall time further."""
        episode = Episode(turns=[_turn(m) for m in messages])
        budget = self.limits.wall_time_s
        if deadline is not None:
            budget = min(budget, deadline - time.monotonic())
        try:
            async with asyncio.timeout(max(budget, 0.0)):
                episode.stop_reason = await self._steps(list(messages), episode)
        except TimeoutError:
            episode.stop_reason = StopReason.wall_time
        t0 = time.monotonic()
        diff = await asyncio.wait_for(self.env.diff(), DIFF_TIMEOUT_S)
        episode.patch = diff.decode("utf-8", "replace")
        episode.environment_s += time.monotonic() - t0
        return episode

    async def _steps(self, messages: list[Message], episode: Episode) -> StopReason:
        while episode.steps < self.limits.max_steps:
            remaining = self.limits.max_tokens - episode.generated
            if remaining <= 0:
                return StopReason.max_tokens
            completion = await self._generate(messages, episode, remaining)
            if completion is None:
                return StopReason.max_tokens
            if await self._act(completion, messages, episode):
                return StopReason.submitted
        return StopReason.max_steps

    async def _generate(self, messages: list[Message], episode: Episode, remaining: int) -> Completion | None:
        per_turn = self.limits.max_tokens_per_turn or remaining
        t0 = time.monotonic()
        try:
            completion = await self.policy.complete(messages, TOOLS, max_tokens=min(per_turn, remaining))
        except ContextLengthExceeded as exc:
            log.info("episode ends: %s", exc)
            return None
        finally:
            episode.generation_s += time.monotonic() - t0
        episode.steps += 1
        episode.generated += completion.generated
        episode.trace.add_turn(completion.prompt_token_ids, completion.token_ids, completion.logprobs)
        message = assistant_message(completion)
        messages.append(message)
        episode.turns.append(_turn(message, completion.tool_calls))
        return completion

    async def _act(self, completion: Completion, messages: list[Message], episode: Episode) -> bool:
        """Answer every tool call; True once the agent submitted."""
        if not completion.tool_calls:
            messages.append({"role": "user", "content": NO_TOOL_CALL})
            episode.turns.append(Turn(role="user", content=NO_TOOL_CALL, error="no_tool_call"))
            episode.malformed += 1
            return False
        for call in completion.tool_calls:
            turn = await self._call(call, episode)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": turn.content})
            episode.turns.append(turn)
            if turn.tool_name == SUBMIT and not turn.error:
                return True
        return False

    async def _call(self, call: ToolCall, episode: Episode) -> Turn:
        parsed = parse_call(call)
        base = Turn(role="tool", content="", tool_name=call.name, tool_call_id=call.id)
        if not isinstance(parsed, Action):
            episode.malformed += 1
            return base.model_copy(update={"content": parsed.message, "error": "malformed"})
        t0 = time.monotonic()
        content, code = await self._run(parsed)
        took = time.monotonic() - t0
        episode.environment_s += took
        return base.model_copy(update={"content": content, "exit_code": code, "duration_s": round(took, 4)})

    async def _run(self, action: Action) -> tuple[str, int | None]:
        if action.tool == BASH:
            assert isinstance(action.args, BashArgs)
            return await self.tools.bash(action.args)
        if action.tool == EDITOR:
            assert isinstance(action.args, EditArgs)
            return await self.tools.edit(action.args), None
        return "Submitted.", None


def _turn(message: Message, calls: list[ToolCall] | None = None) -> Turn:
    return Turn(role=str(message["role"]), content=str(message.get("content") or ""), tool_calls=calls or [])
