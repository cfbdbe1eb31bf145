"""Read task records from files: JSONL, a JSON array or object, YAML, Parquet, or a folder of those.

Readers never raise on a bad record: each yields :class:`Raw` items that carry either the record's data or
a :class:`RecordError` naming the file, the line (or item) and, where known, the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from envfarm.errors import FileFormatError, RecordError

SUFFIXES = (".jsonl", ".ndjson", ".json", ".yaml", ".yml", ".parquet")
JSON_COLUMNS = ("install_config", "envfarm", "scenario", "checklist", "extra")


@dataclass(frozen=True)
class Raw:
    source: str
    line: int | None
    data: dict[str, Any] | None = None
    error: RecordError | None = None
    nbytes: int = 0


def read_path(path: Path) -> Iterator[Raw]:
    """Records of one path; a folder is read file by file (sorted, recursive)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        for file in files:
            yield from read_file(file)
        return
    yield from read_file(path)


def read_file(path: Path) -> Iterator[Raw]:
    if not path.exists():
        yield _file_error(path, "no such file or folder")
        return
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        yield _file_error(path, f"unknown format {path.suffix!r}: use one of {', '.join(SUFFIXES)}")
        return
    try:
        yield from reader(path)
    except (OSError, FileFormatError) as exc:
        yield _file_error(path, str(exc))


def _file_error(path: Path, message: str) -> Raw:
    return Raw(str(path), None, error=RecordError(message, source=str(path)))


def _read_jsonl(path: Path) -> Iterator[Raw]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
                yield _as_record(json.loads(text), str(path), number, len(raw))
            except UnicodeDecodeError as exc:
                yield _bad(path, number, f"not UTF-8 text ({exc.reason} at byte {exc.start})", len(raw))
            except json.JSONDecodeError as exc:
                yield _bad(path, number, f"malformed JSON: {exc.msg} at column {exc.colno}", len(raw))


def _bad(path: Path, line: int | None, message: str, nbytes: int = 0) -> Raw:
    return Raw(str(path), line, error=RecordError(message, source=str(path), line=line), nbytes=nbytes)


def _as_record(value: Any, source: str, line: int | None, nbytes: int) -> Raw:
    if not isinstance(value, dict):
        err = RecordError(
            f"a task record must be a JSON object, got {type(value).__name__}", source=source, line=line
        )
        return Raw(source, line, error=err, nbytes=nbytes)
    return Raw(source, line, data=value, nbytes=nbytes)


def _read_whole(path: Path, value: Any) -> Iterator[Raw]:
    """A document holding one record or a list of records (items are numbered from 1)."""
    size = path.stat().st_size
    if isinstance(value, list):
        share = size // max(len(value), 1)
        for index, item in enumerate(value, start=1):
            yield _as_record(item, f"{path}[item {index}]", None, share)
    else:
        yield _as_record(value, str(path), None, size)


def _read_json(path: Path) -> Iterator[Raw]:
    try:
        value = json.loads(path.read_bytes())
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    yield from _read_whole(path, value)


def _read_yaml(path: Path) -> Iterator[Raw]:
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"malformed YAML: {exc}") from exc
    yield from _read_whole(path, value)


def _read_parquet(path: Path) -> Iterator[Raw]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        share = path.stat().st_size // max(parquet.metadata.num_rows, 1)
        number = 0
        for batch in parquet.iter_batches(batch_size=2048):
            for row in batch.to_pylist():
                number += 1
                yield _parquet_row(row, str(path), number, share)
    except (pa.ArrowException, OSError) as exc:
        raise FileFormatError(f"unreadable Parquet (truncated or not Parquet): {exc}") from exc


def _parquet_row(row: dict[str, Any], source: str, number: int, nbytes: int) -> Raw:
    """Drop null columns and decode the JSON-string columns envfarm's Parquet export writes."""
    record: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        if key in JSON_COLUMNS and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                err = RecordError(
                    f"column holds malformed JSON: {exc.msg}", source=source, line=number, field=key
                )
                return Raw(source, number, error=err, nbytes=nbytes)
        record[key] = value
    record.update(record.pop("extra", None) or {})
    return Raw(source, number, data=record, nbytes=nbytes)


_READERS = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".json": _read_json,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
    ".parquet": _read_parquet,
}
