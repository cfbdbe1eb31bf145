"""Export tasks: envfarm JSONL, a JSON array, the SWE-bench format, Parquet, or a folder of per-task files.

Every writer writes to a temporary name and renames at the end, so a failed export leaves no half file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from envfarm.errors import ConfigError
from envfarm.models.task import SWEBENCH_KEYS, SweTask, task_to_record, to_swebench
from envfarm.store.readers import JSON_COLUMNS
from envfarm.store.tasks import AnyTask

Format = Literal["jsonl", "json", "swebench", "parquet", "dir"]
FORMATS: tuple[str, ...] = ("jsonl", "json", "swebench", "parquet", "dir")
PARQUET_COLUMNS = ("kind", *SWEBENCH_KEYS, "app", "instruction", "created_at", *JSON_COLUMNS)


def export(tasks: Iterable[AnyTask], out: Path, fmt: str) -> int:
    """Write ``tasks`` to ``out`` in ``fmt``; returns how many were written."""
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ConfigError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    return writer(tasks, out)


def _rows(tasks: Iterable[AnyTask], fmt: str) -> Iterator[dict[str, Any]]:
    for task in tasks:
        if fmt == "swebench":
            if isinstance(task, SweTask):
                yield to_swebench(task)
        else:
            yield task_to_record(task)


def _atomic(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(f".{out.name}.tmp-{os.getpid()}")


def _write_lines(tasks: Iterable[AnyTask], out: Path, fmt: str) -> int:
    tmp, count = _atomic(out), 0
    with tmp.open("w", encoding="utf-8") as handle:
        for row in _rows(tasks, fmt):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out)
    return count


def _write_jsonl(tasks: Iterable[AnyTask], out: Path) -> int:
    return _write_lines(tasks, out, "jsonl")


def _write_swebench(tasks: Iterable[AnyTask], out: Path) -> int:
    return _write_lines(tasks, out, "swebench")


def _write_json(tasks: Iterable[AnyTask], out: Path) -> int:
    tmp, count = _atomic(out), 0
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for row in _rows(tasks, "jsonl"):
            handle.write(("," if count else "") + "\n" + json.dumps(row, ensure_ascii=False))
            count += 1
        handle.write("\n]\n")
    tmp.replace(out)
    return count


def _parquet_row(task: AnyTask) -> dict[str, Any]:
    """All-string columns: nested values JSON-encoded, unknown public keys gathered in ``extra``."""
    record = task_to_record(task)
    extra = {k: record.pop(k) for k in list(record) if k not in PARQUET_COLUMNS}
    if extra:
        record["extra"] = extra
    row: dict[str, Any] = {}
    for column in PARQUET_COLUMNS:
        value = record.get(column)
        row[column] = (
            value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )
    return row


def _write_parquet(tasks: Iterable[AnyTask], out: Path, batch: int = 2048) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string()) for c in PARQUET_COLUMNS])
    tmp, count, rows = _atomic(out), 0, []
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for task in tasks:
            rows.append(_parquet_row(task))
            if len(rows) >= batch:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                count, rows = count + len(rows), []
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
            count += len(rows)
    tmp.replace(out)
    return count


def safe_filename(instance_id: str) -> str:
    """A file name for a task id: path separators and odd characters replaced, never '.' or '..'."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", instance_id.replace("/", "__"))
    return name if name.strip(".") else f"_{name}"


def _write_dir(tasks: Iterable[AnyTask], out: Path) -> int:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty folder: choose a new path for a folder export")
    tmp, count = _atomic(out), 0
    tmp.mkdir()
    try:
        for row in _rows(tasks, "jsonl"):
            path = tmp / f"{safe_filename(row['instance_id'])}.json"
            path.write_text(json.dumps(row, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            count += 1
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return count


_WRITERS = {
    "jsonl": _write_jsonl,
    "json": _write_json,
    "swebench": _write_swebench,
    "parquet": _write_parquet,
    "dir": _write_dir,
}
