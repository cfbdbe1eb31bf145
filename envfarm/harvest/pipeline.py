"""The harvest pipeline: candidates -> filters -> patch split -> env inference -> (validation) -> tasks.

Every candidate leaves one ledger row. Candidates the same pipeline version finished are skipped on re-runs.
Validation, when given, runs on a local worker pool; everything else here is cheap and sequential.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from envfarm.errors import EnvfarmError
from envfarm.harvest.build import build_task
from envfarm.harvest.candidate import Candidate
from envfarm.harvest.envinfer import infer
from envfarm.harvest.filters import Decontamination, Deduper, FilterConfig, screen
from envfarm.harvest.ledger import LedgerEntry, Reason, Stage
from envfarm.harvest.ledgerdb import HarvestDB, now_iso
from envfarm.harvest.patchsplit import split_patch
from envfarm.models.task import InstallConfig, SweTask

log = logging.getLogger(__name__)

FilesAt = Callable[[Candidate], Mapping[str, str]]
Progress = Callable[[str, int], None]


@dataclass
class Checked:
    """What validation says of one task: the reason (``ok`` to accept), detail, and the updated task."""

    reason: Reason
    task: SweTask
    detail: str = ""
    stage: Stage = Stage.validated


Validate = Callable[[SweTask], Checked]


@dataclass
class HarvestReport:
    seen: int = 0
    skipped: int = 0
    tasks: list[SweTask] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)


def default_workers() -> int:
    """One validation per core, leaving one for the harvester itself."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class Harvester:
    db: HarvestDB
    files_at: FilesAt
    config: FilterConfig = field(default_factory=FilterConfig)
    decon: Decontamination = field(default_factory=Decontamination)
    validate: Validate | None = None
    workers: int = field(default_factory=default_workers)
    available_pythons: list[str] | None = None
    source: str = "git"
    progress: Progress | None = None
    _inferred: dict[tuple[str, str, str], InstallConfig] = field(default_factory=dict, repr=False)

    def run(self, candidates: Iterable[Candidate]) -> HarvestReport:
        report = HarvestReport()
        dedupe = Deduper(self.db.patch_hashes())
        done: dict[str, set[str]] = {}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures: list[tuple[LedgerEntry, Future[Checked]]] = []
            for cand in candidates:
                report.seen += 1
                if cand.repo not in done:
                    done[cand.repo] = self.db.done_keys(cand.repo)
                if cand.key in done[cand.repo]:
                    report.skipped += 1
                    continue
                entry, task = self._prepare(cand, dedupe)
                self._tick("screened")
                if task is not None and self.validate is not None:
                    futures.append((entry, pool.submit(self.validate, task)))
                    continue
                self._finish(report, entry, task)
            for entry, future in futures:
                self._finish(report, *self._checked(entry, future))
        return report

    def _prepare(self, cand: Candidate, dedupe: Deduper) -> tuple[LedgerEntry, SweTask | None]:
        entry = LedgerEntry(repo=cand.repo, key=cand.key, stage=Stage.mined, reason=Reason.pending)
        entry.instance_id = cand.instance_id
        split = split_patch(cand.diff, self.config.path_rules())
        reason, detail, digest = screen(cand, split, self.config, dedupe, self.decon)
        if reason is not None:
            return _stop(entry, Stage.mined, reason, detail), None
        entry.stage, entry.patch_hash = Stage.filtered, digest
        try:
            config = self._infer(cand)
        except (EnvfarmError, OSError, ValueError) as exc:
            return _stop(entry, Stage.filtered, Reason.env_infer_failed, str(exc)[:500]), None
        entry.stage = Stage.env_inferred
        return entry, build_task(cand, split, config, ingested_from=self.source, now=now_iso())

    def _infer(self, cand: Candidate) -> InstallConfig:
        """Inference, memoised by (environment stamp, day): equal stamps mean equal files at base."""
        key = (cand.repo, cand.env_stamp, cand.created_at[:10])
        if not cand.env_stamp or key not in self._inferred:
            config = infer(self.files_at(cand), cand.created_at, self.available_pythons)
            if not cand.env_stamp:
                return config
            self._inferred = {key: config}
        return self._inferred[key].model_copy(deep=True)

    def _checked(self, entry: LedgerEntry, future: Future[Checked]) -> tuple[LedgerEntry, SweTask | None]:
        try:
            result = future.result()
        except EnvfarmError as exc:
            return _stop(entry, Stage.env_inferred, Reason.infra_error, str(exc)[:500]), None
        stage = Stage.accepted if result.reason is Reason.ok else result.stage
        return _stop(entry, stage, result.reason, result.detail), result.task

    def _finish(self, report: HarvestReport, entry: LedgerEntry, task: SweTask | None) -> None:
        self.db.record([entry])
        report.entries.append(entry)
        if task is not None and entry.reason in (Reason.ok, Reason.pending):
            report.tasks.append(task)
        self._tick(entry.reason.value)

    def _tick(self, what: str) -> None:
        if self.progress is not None:
            self.progress(what, 1)


def _stop(entry: LedgerEntry, stage: Stage, reason: Reason, detail: str) -> LedgerEntry:
    return entry.model_copy(update={"stage": stage, "reason": reason, "detail": detail})
