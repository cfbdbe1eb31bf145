"""Turn a screened candidate into a SweTask record with its envfarm block filled (pure)."""

from __future__ import annotations

from envfarm.harvest.candidate import Candidate
from envfarm.harvest.ledger import PIPELINE_VERSION
from envfarm.harvest.patchsplit import PatchSplit
from envfarm.models.task import (
    EnvfarmBlock,
    EnvSpec,
    InstallConfig,
    Provenance,
    Quality,
    Source,
    SweTask,
)


def build_task(
    cand: Candidate, split: PatchSplit, config: InstallConfig, *, ingested_from: str, now: str
) -> SweTask:
    """The task a candidate becomes before validation: FAIL_TO_PASS/PASS_TO_PASS still empty."""
    statement, origin = cand.statement()
    return SweTask(
        instance_id=cand.instance_id,
        repo=cand.repo,
        base_commit=cand.base_commit,
        patch=split.gold,
        test_patch=split.tests,
        problem_statement=statement,
        hints_text=cand.hints(),
        created_at=cand.created_at,
        version=config.python or "",
        environment_setup_commit=cand.base_commit,
        install_config=config,
        envfarm=EnvfarmBlock(
            source=Source(
                kind="harvest",
                url=cand.url,
                pr_number=cand.pr_number,
                issue_numbers=[i.number for i in cand.issues] or cand.issue_numbers,
                statement_from=origin,
            ),
            env=EnvSpec(python=config.python or ""),
            quality=Quality(
                statement_chars=len(statement),
                patch_lines=split.gold_lines,
                files_changed=len(split.gold_files) + len(split.test_files),
            ),
            provenance=Provenance(
                pipeline_version=PIPELINE_VERSION,
                ingested_from=ingested_from,
                harvested_at=now,
                licence=cand.licence or "",
            ),
        ),
    )
