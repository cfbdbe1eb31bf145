"""OpenAI chat-completions bodies as vLLM serves them, for RL (pure: no I/O).

For token ids and log-probabilities the request sets ``logprobs: true`` and vLLM's extensions
``return_tokens_as_token_ids`` (each ``logprobs.content[i].token`` becomes ``"token_id:<id>"``) and
``return_token_ids`` (``choices[i].token_ids`` and the top-level ``prompt_token_ids``). Either source of
the sampled ids is read; a server without them gives a completion with ``token_ids`` None.
"""

from __future__ import annotations

import json
from typing import Any

from envfarm.agent.policy import Completion, Message
from envfarm.errors import PolicyError
from envfarm.models.job import PolicyAgent
from envfarm.models.rollout import ToolCall

TOKEN_ID_PREFIX = "token_id:"
CONTEXT_MARKERS = ("maximum context length", "context length", "maximum model length", "too long")


def request_body(
    agent: PolicyAgent, messages: list[Message], tools: list[dict[str, Any]], max_tokens: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": agent.model,
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "temperature": agent.temperature,
        "top_p": agent.top_p,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if agent.top_k is not None:
        body["top_k"] = agent.top_k
    if agent.seed is not None:
        body["seed"] = agent.seed
    if agent.logprobs:
        body.update(logprobs=True, return_tokens_as_token_ids=True, return_token_ids=True)
    body.update(agent.extra_body)
    return body


def parse_response(data: Any) -> Completion:
    """A chat completion; a body that is not one is a PolicyError naming the field."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise PolicyError(f"not a chat completion: missing choices[0].message ({exc!r})") from exc
    token_ids, logprobs = _sampled(choice)
    if token_ids is not None and logprobs is not None and len(token_ids) != len(logprobs):
        raise PolicyError(f"choices[0]: {len(token_ids)} token_ids but {len(logprobs)} logprobs")
    usage = data.get("usage") or {}
    return Completion(
        content=message.get("content") or "",
        tool_calls=[_call(tc, i) for i, tc in enumerate(message.get("tool_calls") or [])],
        finish_reason=str(choice.get("finish_reason") or "stop"),
        prompt_token_ids=_ints(data.get("prompt_token_ids"), "prompt_token_ids"),
        token_ids=token_ids,
        logprobs=logprobs,
        reasoning=message.get("reasoning_content") or message.get("reasoning") or "",
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )


def _call(raw: Any, index: int) -> ToolCall:
    fn = (raw.get("function") or {}) if isinstance(raw, dict) else {}
    if not isinstance(fn, dict):
        fn = {}
    args = fn.get("arguments", "")
    text = args if isinstance(args, str) else json.dumps(args)
    call_id = raw.get("id") if isinstance(raw, dict) else None
    return ToolCall(id=str(call_id or f"call_{index}"), name=str(fn.get("name") or ""), arguments=text)


def _sampled(choice: dict[str, Any]) -> tuple[list[int] | None, list[float] | None]:
    content = (choice.get("logprobs") or {}).get("content")
    logprobs = None if content is None else [float(e["logprob"]) for e in content]
    token_ids = _ints(choice.get("token_ids"), "choices[0].token_ids")
    if token_ids is None and content is not None:
        token_ids = _ids_from_tokens([str(e.get("token", "")) for e in content])
    return token_ids, logprobs


def _ids_from_tokens(tokens: list[str]) -> list[int] | None:
    if not all(t.startswith(TOKEN_ID_PREFIX) for t in tokens):
        return None  # plain token strings: the server ignored return_tokens_as_token_ids
    try:
        return [int(t[len(TOKEN_ID_PREFIX) :]) for t in tokens]
    except ValueError as exc:
        raise PolicyError(f"logprobs.content: a token is not 'token_id:<int>': {exc}") from exc


def _ints(value: Any, field: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise PolicyError(f"{field} is not a list of integers")
    return value


def error_message(body: bytes) -> str:
    """The message of an OpenAI/vLLM error body (``{"error": {"message"}}`` or ``{"message"}``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])
        if "message" in data:
            return str(data["message"])
    return str(data)[:300]


def is_context_error(status: int, message: str) -> bool:
    lowered = message.lower()
    return status == 400 and any(marker in lowered for marker in CONTEXT_MARKERS)
