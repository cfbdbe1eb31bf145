"""Ingest task files into the store: validate each record, upsert the good ones, report the rest.

Without ``strict``, valid records are stored even when others in the same file are rejected; with it,
nothing is stored when anything is wrong. Either way the whole ingest is one transaction, so a crash or
Ctrl-C leaves the store as it was before.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from envfarm.errors import RecordError
from envfarm.models.task import parse_task, unknown_keys
from envfarm.store.readers import Raw, read_path
from envfarm.store.tasks import AnyTask, TaskStore, Upsert

Progress = Callable[[Raw], None]


@dataclass
class Reject:
    source: str
    line: int | None
    field: str
    message: str
    instance_id: str = ""
    record: dict[str, Any] | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        what = f" (field {self.field!r})" if self.field else ""
        return f"{where}: {self.message}{what}"


@dataclass
class IngestReport:
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    unknown_keys: Counter[str] = field(default_factory=Counter)
    rolled_back: bool = False

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "stored": not self.rolled_back,
        }


class _StrictAbort(Exception):
    pass


def ingest(
    store: TaskStore, paths: Iterable[Path], *, strict: bool = False, progress: Progress | None = None
) -> IngestReport:
    """Read, validate and upsert every record under ``paths``; one transaction for the whole call."""
    report = IngestReport()
    try:
        with store.transaction():
            for path in paths:
                _ingest_path(store, path, report, progress)
            if strict and report.rejects:
                raise _StrictAbort
    except _StrictAbort:
        report.rolled_back = True
    return report


def _ingest_path(store: TaskStore, path: Path, report: IngestReport, progress: Progress | None) -> None:
    first_line: dict[tuple[str, str], int | None] = {}
    for raw in read_path(path):
        if progress is not None:
            progress(raw)
        task = _parse(raw, report)
        if task is None:
            continue
        key = (_file_of(raw.source), task.instance_id)
        if key in first_line:
            first = first_line[key]
            where = f"line {first}" if first is not None else "an earlier item"
            _reject(
                report,
                raw,
                f"duplicate instance_id {task.instance_id!r} in one file, first at {where}",
                "instance_id",
            )
            continue
        first_line[key] = raw.line
        _store(store, task, raw, report)


def _file_of(source: str) -> str:
    return source.split("[item ", 1)[0]


def _parse(raw: Raw, report: IngestReport) -> AnyTask | None:
    if raw.error is not None or raw.data is None:
        error = raw.error or RecordError("empty record", source=raw.source, line=raw.line)
        report.rejects.append(Reject(raw.source, raw.line, error.field, error.reason))
        return None
    try:
        task = parse_task(raw.data)
    except ValidationError as exc:
        field_name, message = _first_error(exc)
        _reject(report, raw, message, field_name)
        return None
    report.unknown_keys.update(unknown_keys(task))
    return task


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """The first failing field (dotted path, without the union tag) and a message counting the rest."""
    errors = exc.errors()
    loc = [str(part) for part in errors[0]["loc"] if part not in ("swe", "web")]
    message = errors[0]["msg"]
    if errors[0]["type"] == "missing":
        message = "missing required field"
    more = [".".join(str(p) for p in e["loc"] if p not in ("swe", "web")) for e in errors[1:]]
    if more:
        message += f" (and {len(more)} more: {', '.join(more[:5])})"
    return ".".join(loc), message


def _reject(report: IngestReport, raw: Raw, message: str, field_name: str) -> None:
    instance_id = str((raw.data or {}).get("instance_id", ""))
    report.rejects.append(Reject(raw.source, raw.line, field_name, message, instance_id, raw.data))


def _store(store: TaskStore, task: AnyTask, raw: Raw, report: IngestReport) -> None:
    outcome, detail = store.upsert(task, source_file=_file_of(raw.source))
    if outcome is Upsert.duplicate:
        _reject(report, raw, f"duplicate of stored task {detail}", "patch")
    elif outcome is Upsert.accepted:
        report.accepted += 1
    elif outcome is Upsert.updated:
        report.updated += 1
    else:
        report.unchanged += 1


def write_rejects(report: IngestReport, path: Path) -> None:
    """Every rejected record, with where and why, as JSONL: fix them and ingest this file again."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for r in report.rejects:
            row: dict[str, Any] = {
                "source": r.source,
                "line": r.line,
                "field": r.field,
                "error": r.message,
                "instance_id": r.instance_id,
            }
            if r.record is not None:
                row["record"] = r.record
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
