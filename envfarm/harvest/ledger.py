"""The funnel ledger: every candidate, the stage it reached and why it stopped (pure model)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

PIPELINE_VERSION = "harvest-1"


class Stage(StrEnum):
    """Stages in order; a candidate's stage is the last one it reached."""

    mined = "mined"
    filtered = "filtered"
    env_inferred = "env_inferred"
    env_built = "env_built"
    validated = "validated"
    accepted = "accepted"


class Reason(StrEnum):
    """Why a candidate stopped (``ok`` for an accepted task, ``pending`` while it is in flight)."""

    ok = "ok"
    pending = "pending"
    not_merged = "not_merged"
    licence = "licence"
    not_language = "not_language"
    no_test_change = "no_test_change"
    no_code_change = "no_code_change"
    binary = "binary"
    too_large = "too_large"
    no_statement = "no_statement"
    decontaminated = "decontaminated"
    duplicate = "duplicate"
    env_infer_failed = "env_infer_failed"
    env_build_failed = "env_build_failed"
    test_patch_fails = "test_patch_fails"
    gold_patch_fails = "gold_patch_fails"
    f2p_empty = "f2p_empty"
    gold_fails = "gold_fails"
    flaky = "flaky"
    probe_scored = "probe_scored"
    timeout = "timeout"
    out_of_memory = "out_of_memory"
    infra_error = "infra_error"


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str
    key: str
    stage: Stage
    reason: Reason
    detail: str = ""
    instance_id: str = ""
    patch_hash: str = ""  # normalised gold-patch hash, once the candidate passed the filters
    pipeline_version: str = PIPELINE_VERSION
    updated_at: str = ""

    @property
    def done(self) -> bool:
        """Whether re-running the same pipeline version has nothing left to do for this candidate."""
        return self.reason is not Reason.pending


def funnel(entries: Iterable[LedgerEntry]) -> dict[tuple[Stage, Reason], int]:
    """Counts per (stage reached, reason), in stage order."""
    counts = Counter((e.stage, e.reason) for e in entries)
    order = list(Stage)
    return dict(sorted(counts.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1].value)))


def reached(entries: Iterable[LedgerEntry]) -> dict[Stage, int]:
    """How many candidates reached each stage or a later one (the funnel's widths)."""
    order = list(Stage)
    counts = Counter(order.index(e.stage) for e in entries)
    return {stage: sum(n for i, n in counts.items() if i >= idx) for idx, stage in enumerate(order)}
