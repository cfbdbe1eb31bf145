"""Rollout records: one agent episode on one environment, as the trainer reads it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from envfarm.models.task import Strict
from envfarm.models.verdict import Verdict


class StopReason(StrEnum):
    submitted = "submitted"
    max_steps = "max_steps"
    max_tokens = "max_tokens"
    wall_time = "wall_time"
    policy_error = "policy_error"
    infra_error = "infra_error"


class ToolCall(Strict):
    """One tool call as the policy wrote it; ``arguments`` is the raw (possibly malformed) JSON text."""

    id: str = ""
    name: str
    arguments: str = ""


class Turn(Strict):
    role: str
    content: str
    tool_name: str = ""
    tool_call_id: str = ""
    exit_code: int | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    error: str = ""  # why a tool call was refused (malformed, unknown tool)
    duration_s: float = 0.0


class RolloutTimings(Strict):
    generation_s: float = 0.0
    environment_s: float = 0.0
    verification_s: float = 0.0
    total_s: float = 0.0


class RolloutRecord(Strict):
    rollout_id: str
    job: str = ""
    task_id: str
    group_id: str
    sample_idx: int = Field(ge=0)
    prompt_token_ids: list[int] = Field(default_factory=list)
    response_token_ids: list[int] = Field(default_factory=list)
    loss_mask: list[int] = Field(default_factory=list)  # 0 on tool and environment tokens
    rollout_logprobs: list[float] = Field(default_factory=list)
    policy_version: str = ""
    turns: list[Turn] = Field(default_factory=list)
    patch: str = ""
    stop_reason: StopReason = StopReason.submitted
    truncated: bool = False
    verdict: Verdict | None = None
    timings: RolloutTimings = Field(default_factory=RolloutTimings)
    steps: int = 0
    attempts: int = 1  # dispatches it took (1 + infra re-dispatches)
    metrics: dict[str, float] = Field(default_factory=dict)


class RolloutGroup(Strict):
    """The G rollouts of one task: trained on whole or not at all."""

    group_id: str
    task_id: str
    job: str = ""
    records: list[RolloutRecord] = Field(default_factory=list)
