"""Request bodies and vLLM-shaped responses (token ids either way, log-probs, tool calls)."""

from __future__ import annotations

from typing import Any

import pytest

from envfarm.agent.chat_wire import error_message, is_context_error, parse_response, request_body
from envfarm.errors import PolicyError
from envfarm.models.job import PolicyAgent


def vllm_response(**choice_extra: Any) -> dict[str, Any]:
    """The shape vLLM's OpenAI server answers with (tool parser on, logprobs and token ids asked for)."""
    choice = {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "reasoning_content": "think",
            "tool_calls": [
                {
                    "id": "chatcmpl-tool-1",
                    "type": "function",
                    "function": {"name": "bash", "arguments": '{"command": "ls"}'},
                }
            ],
        },
        "logprobs": {
            "content": [
                {"token": "token_id:151657", "logprob": -0.01, "bytes": [], "top_logprobs": []},
                {"token": "token_id:515", "logprob": -1.5, "bytes": [], "top_logprobs": []},
            ]
        },
        "finish_reason": "tool_calls",
        "stop_reason": None,
        **choice_extra,
    }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [choice],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        "prompt_token_ids": [1, 2, 3],
    }


def test_request_asks_for_vllm_token_ids_and_keeps_sampling_settings() -> None:
    agent = PolicyAgent(model="m", temperature=0.7, top_p=0.9, top_k=20, seed=3, extra_body={"min_p": 0.1})
    body = request_body(agent, [{"role": "user", "content": "hi"}], [], 128)
    assert (
        body["logprobs"] is True and body["return_tokens_as_token_ids"] is True and body["return_token_ids"]
    )
    assert (body["temperature"], body["top_p"], body["top_k"], body["seed"]) == (0.7, 0.9, 20, 3)
    assert body["max_tokens"] == 128 and body["min_p"] == 0.1 and body["tool_choice"] == "auto"
    plain = request_body(PolicyAgent(model="m", logprobs=False), [], [], None)
    assert "logprobs" not in plain and "max_tokens" not in plain and "top_k" not in plain


def test_token_ids_from_token_id_strings() -> None:
    c = parse_response(vllm_response())
    assert c.token_ids == [151657, 515] and c.logprobs == [-0.01, -1.5] and c.prompt_token_ids == [1, 2, 3]
    assert c.tool_calls[0].name == "bash" and c.tool_calls[0].id == "chatcmpl-tool-1"
    assert c.finish_reason == "tool_calls" and c.reasoning == "think" and c.generated == 2 and c.content == ""


def test_choice_token_ids_win_and_must_agree_with_logprobs() -> None:
    assert parse_response(vllm_response(token_ids=[7, 8])).token_ids == [7, 8]
    with pytest.raises(PolicyError, match="3 token_ids but 2 logprobs"):
        parse_response(vllm_response(token_ids=[7, 8, 9]))


def test_plain_openai_answers_have_no_token_ids() -> None:
    data = vllm_response(logprobs={"content": [{"token": "ls", "logprob": -0.1}]})
    del data["prompt_token_ids"]
    c = parse_response(data)
    assert c.token_ids is None and c.logprobs == [-0.1] and c.prompt_token_ids is None
    bare = parse_response({"choices": [{"message": {"content": "hi"}}]})
    assert (
        bare.content == "hi"
        and bare.token_ids is None
        and bare.logprobs is None
        and bare.finish_reason == "stop"
    )


def test_dict_arguments_and_missing_ids_are_normalised() -> None:
    data = {
        "choices": [
            {"message": {"tool_calls": [{"function": {"name": "bash", "arguments": {"command": "x"}}}]}}
        ]
    }
    [call] = parse_response(data).tool_calls
    assert call.id == "call_0" and call.arguments == '{"command": "x"}'


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"choices": []},
        {"choices": [{}]},
        "text",
        {"choices": [{"message": {}}], "prompt_token_ids": ["a"]},
    ],
)
def test_not_a_completion_is_a_policy_error(data: Any) -> None:
    with pytest.raises(PolicyError):
        parse_response(data)


def test_error_bodies_and_context_errors() -> None:
    vllm = (
        b'{"object": "error", "message": "This model\'s maximum context length is 10 tokens.", "code": 400}'
    )
    assert error_message(vllm).startswith("This model's maximum context length")
    assert error_message(b'{"error": {"message": "bad key"}}') == "bad key"
    assert error_message(b"<html>") == "<html>"
    assert is_context_error(400, error_message(vllm)) and not is_context_error(500, error_message(vllm))
    assert not is_context_error(400, "bad key")
