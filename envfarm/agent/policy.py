"""The one protocol every policy speaks, and what a completion carries back (pure: no I/O).

Messages and tools are OpenAI chat-completions dicts. A completion carries the assistant's text and tool
calls and, when the policy can give them (vLLM with token ids, the local Hugging Face policy), the prompt's
token ids, the sampled token ids and their log-probabilities, exactly as sampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from envfarm.models.rollout import ToolCall

Message = dict[str, Any]


@dataclass
class Completion:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    reasoning: str = ""
    completion_tokens: int = 0  # as the server counted them (usage), else len(token_ids)

    @property
    def generated(self) -> int:
        if self.completion_tokens:
            return self.completion_tokens
        return len(self.token_ids) if self.token_ids is not None else 0


@runtime_checkable
class Policy(Protocol):
    """What chooses the agent's actions: an endpoint, a local model, or a script."""

    @property
    def version(self) -> str:
        """The policy version written into every record (a checkpoint name or step)."""
        ...

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> Completion:
        """The next assistant message for ``messages``. Raises PolicyError subclasses."""
        ...

    async def aclose(self) -> None:
        """Release connections or models."""
        ...


def assistant_message(completion: Completion) -> Message:
    """The assistant message to send back next turn, exactly as the policy produced it."""
    message: Message = {"role": "assistant", "content": completion.content or None}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in completion.tool_calls
        ]
    return message


def turn_index(messages: list[Message]) -> int:
    """How many assistant messages the conversation already holds (a scripted policy's position)."""
    return sum(1 for m in messages if m.get("role") == "assistant")
