"""The token view of a multi-turn episode: prompt ids, response ids, loss mask, log-probs (pure).

Each turn the policy reports the full prompt it saw and the tokens it sampled. The response is everything
after the first prompt: sampled tokens (mask 1, their log-probs) and the tool and environment tokens the
chat template put between turns (mask 0, log-prob 0.0). When a later prompt does not start with what came
before (a chat template that re-renders earlier turns differently), the sequence is cut back to the common
prefix and the later prompt is taken as given: the record is always exactly what the model saw last,
and a token keeps mask 1 only while it stands where it was sampled. ``retokenized`` counts the
sampled tokens cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenTrace:
    available: bool = True
    prompt_len: int | None = None
    ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    retokenized: int = 0

    def add_turn(
        self, prompt: list[int] | None, sampled: list[int] | None, logprobs: list[float] | None
    ) -> None:
        """Append one turn; a turn without token ids makes the whole trace unavailable."""
        if not self.available or prompt is None or sampled is None:
            self.available = False
            return
        if logprobs is None:
            logprobs = [0.0] * len(sampled)
        if len(logprobs) != len(sampled):
            raise ValueError(f"{len(sampled)} sampled tokens but {len(logprobs)} log-probabilities")
        self._extend_to(prompt)
        self.ids.extend(sampled)
        self.mask.extend([1] * len(sampled))
        self.logprobs.extend(logprobs)

    def _extend_to(self, prompt: list[int]) -> None:
        if self.prompt_len is None:
            self.prompt_len = len(prompt)
        else:
            common = _common_prefix(self.ids, prompt)
            if common < len(self.ids):
                self.retokenized += sum(self.mask[common:])
                del self.ids[common:], self.mask[common:], self.logprobs[common:]
                self.prompt_len = min(self.prompt_len, common)
        added = prompt[len(self.ids) :]
        self.ids.extend(added)
        self.mask.extend([0] * len(added))
        self.logprobs.extend([0.0] * len(added))

    def prompt_ids(self) -> list[int]:
        return self.ids[: self.prompt_len or 0] if self.available else []

    def response(self) -> tuple[list[int], list[int], list[float]]:
        """Response ids, loss mask and log-probs (all empty when the policy gave no token ids)."""
        if not self.available or self.prompt_len is None:
            return [], [], []
        start = self.prompt_len
        return self.ids[start:], self.mask[start:], self.logprobs[start:]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    return next(i for i in range(n) if a[i] != b[i])
