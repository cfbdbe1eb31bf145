"""The fake OpenAI server's scripted solve of the calc sample (envfarm-samples__calc-3), and checks that
a stored record holds the server's token ids and log-probabilities unchanged."""

from __future__ import annotations

import json
from typing import Any

import yaml
from farm_home import CALC

from envfarm.models.rollout import RolloutRecord
from envfarm.testing.fake_openai import FakeReply

STATS = "src/calc/stats.py"
BUGGY_RETURN = "    return ordered[len(ordered) // 2]\n"
FIXED_RETURN = (
    "    middle = len(ordered) // 2\n"
    "    if len(ordered) % 2:\n"
    "        return ordered[middle]\n"
    "    return (ordered[middle - 1] + ordered[middle]) / 2\n"
)
EDITOR = "str_replace_based_edit_tool"


def solve() -> list[FakeReply]:
    """Look, fix median(), check it, submit."""
    fix = {"command": "str_replace", "path": STATS, "old_str": BUGGY_RETURN, "new_str": FIXED_RETURN}
    check = "PYTHONPATH=src python3 -c 'from calc.stats import median; print(median([4, 1, 3, 2]))'"
    return [
        FakeReply(content="Looking first.", tool_calls=(("bash", json.dumps({"command": f"cat {STATS}"})),)),
        FakeReply(tool_calls=((EDITOR, json.dumps(fix)),)),
        FakeReply(tool_calls=(("bash", json.dumps({"command": check})),)),
        FakeReply(tool_calls=(("submit", "{}"),)),
    ]


def policy_job(name: str, endpoint: str, *, group_size: int = 1, **agent: Any) -> dict[str, Any]:
    """A RolloutJob manifest of a policy job on the calc sample against ``endpoint``."""
    return {
        "apiVersion": "envfarm.dev/v1alpha1",
        "kind": "RolloutJob",
        "metadata": {"name": name},
        "spec": {
            "tasks": {"ids": [CALC]},
            "group_size": group_size,
            "concurrency": group_size,
            "setup_timeout_s": 60,
            "retry_backoff_s": 0.1,
            "agent": {
                "kind": "policy",
                "backend": "openai",
                "endpoint": endpoint,
                "model": "fake-model",
                "policy_version": "step-3",
                "command_timeout_s": 60,
                "request_retries": 0,
                **agent,
            },
        },
    }


def dump(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest)


def served_tokens(responses: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(token id, log-prob) of every sampled token the server sent, in order."""
    out: list[tuple[int, float]] = []
    for answer in responses:
        choice = answer["choices"][0]
        lps = [e["logprob"] for e in choice["logprobs"]["content"]]
        out += list(zip(choice["token_ids"], lps, strict=True))
    return out


def sampled(record: RolloutRecord) -> list[tuple[int, float]]:
    """(token id, log-prob) of the record's sampled tokens (loss mask 1), in order."""
    triples = zip(record.response_token_ids, record.loss_mask, record.rollout_logprobs, strict=True)
    return [(t, lp) for t, m, lp in triples if m == 1]
