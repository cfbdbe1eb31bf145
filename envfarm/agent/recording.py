"""An episode as a rollout record, and the names of groups and rollouts (pure: no I/O).

Names are deterministic (``<job>.<task>`` and ``<group>.<sample>``), so a re-run of a job, or a restarted
driver, writes the same records instead of duplicating them.
"""

from __future__ import annotations

import re

from envfarm.agent.loop import Episode
from envfarm.models.rollout import RolloutRecord, RolloutTimings
from envfarm.models.verdict import Verdict

UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def group_id(job: str, task_id: str) -> str:
    return f"{UNSAFE.sub('-', job)}.{UNSAFE.sub('-', task_id)}"


def rollout_id(group: str, sample_idx: int) -> str:
    return f"{group}.{sample_idx}"


def build_record(
    *,
    job: str,
    task_id: str,
    group: str,
    sample_idx: int,
    episode: Episode,
    policy_version: str,
    total_s: float,
) -> RolloutRecord:
    ids, mask, logprobs = episode.trace.response()
    return RolloutRecord(
        rollout_id=rollout_id(group, sample_idx),
        job=job,
        task_id=task_id,
        group_id=group,
        sample_idx=sample_idx,
        prompt_token_ids=episode.trace.prompt_ids(),
        response_token_ids=ids,
        loss_mask=mask,
        rollout_logprobs=logprobs,
        policy_version=policy_version,
        turns=episode.turns,
        patch=episode.patch,
        stop_reason=episode.stop_reason,
        truncated=episode.truncated,
        timings=RolloutTimings(
            generation_s=round(episode.generation_s, 4),
            environment_s=round(episode.environment_s, 4),
            total_s=round(total_s, 4),
        ),
        steps=episode.steps,
        metrics={
            "generated_tokens": float(episode.generated),
            "malformed_calls": float(episode.malformed),
            "retokenized_tokens": float(episode.trace.retokenized),
        },
    )


def with_verdict(record: RolloutRecord, verdict: Verdict, verify_s: float, attempts: int) -> RolloutRecord:
    timings = record.timings.model_copy(
        update={"verification_s": round(verify_s, 4), "total_s": round(record.timings.total_s + verify_s, 4)}
    )
    return record.model_copy(update={"verdict": verdict, "timings": timings, "attempts": attempts})
