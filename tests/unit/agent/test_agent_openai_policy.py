"""The OpenAI-compatible policy against the fake server over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from envfarm.agent.openai_policy import OpenAIPolicy
from envfarm.agent.policies import api_key, build_policy
from envfarm.agent.tools import TOOLS
from envfarm.errors import ConfigError, ContextLengthExceeded, PolicyError, PolicyUnavailable
from envfarm.models.job import PolicyAgent
from envfarm.testing.fake_openai import FakeOpenAI, FakeReply, logprob, prompt_ids

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "fix it"}]
LS = FakeReply(content="look", tool_calls=(("bash", json.dumps({"command": "ls"})),))


def agent(server: FakeOpenAI, **extra: object) -> PolicyAgent:
    return PolicyAgent.model_validate({"endpoint": server.base_url, "model": "fake-model", **extra})


async def test_completion_carries_tool_calls_token_ids_and_logprobs() -> None:
    with FakeOpenAI([LS], api_key="sk-1") as server:
        policy = OpenAIPolicy(agent(server, temperature=0.5, seed=9), api_key="sk-1")
        c = await policy.complete(MESSAGES, TOOLS, max_tokens=500)
        await policy.aclose()
    assert c.content == "look" and c.tool_calls[0].name == "bash" and c.finish_reason == "tool_calls"
    assert c.prompt_token_ids == prompt_ids(MESSAGES)
    served = server.responses[0]["choices"][0]
    assert c.token_ids == served["token_ids"]
    assert c.logprobs == [logprob(t, len(c.prompt_token_ids) + i) for i, t in enumerate(c.token_ids)]
    body, headers = server.requests[0], server.headers[0]
    assert headers["authorization"] == "Bearer sk-1" and body["seed"] == 9 and body["temperature"] == 0.5
    assert body["tools"] == TOOLS and body["max_tokens"] == 500


async def test_server_errors_are_retried_then_unavailable() -> None:
    with FakeOpenAI([LS]) as server:
        policy = OpenAIPolicy(agent(server, request_retries=2), backoff_s=0.01)
        server.fail_next(2, status=503)
        assert (await policy.complete(MESSAGES, TOOLS)).tool_calls
        server.fail_next(1, status=429, retry_after="0.05")
        assert (await policy.complete(MESSAGES, TOOLS)).tool_calls
        server.fail_next(3, status=500)
        with pytest.raises(PolicyUnavailable, match="failed 3 times; last: HTTP 500: injected failure"):
            await policy.complete(MESSAGES, TOOLS)
        await policy.aclose()


async def test_refusals_are_not_retried_and_never_show_the_key() -> None:
    with FakeOpenAI([LS], api_key="right") as server:
        policy = OpenAIPolicy(agent(server, request_retries=3), api_key="wrong-secret", backoff_s=0.01)
        with pytest.raises(PolicyError, match=r"refused the request \(401\)") as caught:
            await policy.complete(MESSAGES, TOOLS)
        await policy.aclose()
    assert len(server.requests) == 0 and "wrong-secret" not in str(caught.value)


async def test_context_length_is_its_own_error() -> None:
    with FakeOpenAI([LS], max_model_len=40) as server:
        policy = OpenAIPolicy(agent(server))
        with pytest.raises(ContextLengthExceeded, match="maximum context length is 40"):
            await policy.complete(MESSAGES, TOOLS, max_tokens=50)
        await policy.aclose()


async def test_unreachable_endpoint_is_unavailable() -> None:
    with FakeOpenAI([LS]) as server:
        url = server.base_url
    policy = OpenAIPolicy(PolicyAgent(endpoint=url, model="m", request_retries=1), backoff_s=0.01)
    with pytest.raises(PolicyUnavailable, match="ConnectError"):
        await policy.complete(MESSAGES, TOOLS)
    await policy.aclose()


async def test_requests_in_flight_stay_under_the_endpoint_limit() -> None:
    with FakeOpenAI([LS], latency_s=0.05) as server:
        policy = OpenAIPolicy(agent(server, max_concurrency=3))
        await asyncio.gather(*(policy.complete(MESSAGES, TOOLS) for _ in range(12)))
        await policy.aclose()
    assert server.max_in_flight == 3 and len(server.requests) == 12


def test_length_cut_completion_has_no_tool_calls() -> None:
    async def go() -> None:
        with FakeOpenAI([LS]) as server:
            policy = OpenAIPolicy(agent(server))
            c = await policy.complete(MESSAGES, TOOLS, max_tokens=5)
            await policy.aclose()
        assert c.finish_reason == "length" and c.tool_calls == [] and c.token_ids is not None
        assert len(c.token_ids) == 5

    asyncio.run(go())


def test_api_key_comes_from_the_named_variable_only() -> None:
    assert api_key(PolicyAgent(), {}) is None
    assert api_key(PolicyAgent(api_key_env="MY_KEY"), {"MY_KEY": "v"}) == "v"
    with pytest.raises(ConfigError, match="MY_KEY is not set"):
        api_key(PolicyAgent(api_key_env="MY_KEY"), {})
    with pytest.raises(ConfigError, match="endpoint"):
        build_policy(PolicyAgent(), environ={})
    with pytest.raises(ConfigError, match="script"):
        build_policy(PolicyAgent(backend="scripted"))
