"""Every bad-input case of the foundation issue: a clear message naming file, line and field; nothing lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from envfarm.store.ingest import ingest, write_rejects
from envfarm.store.tasks import TaskStore


def test_malformed_line_is_rejected_and_the_rest_stored(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [make_record(1), '{"repo": "acme/calc", oops', make_record(2)])
    report = ingest(store, [path])
    assert (report.accepted, report.rejected) == (2, 1)
    assert str(report.rejects[0]).startswith(f"{path}:2: malformed JSON")
    assert store.count() == 2


def test_missing_and_mistyped_fields_name_the_field(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    missing = make_record(1)
    del missing["base_commit"]
    mistyped = make_record(2, PASS_TO_PASS=42)
    path = write_jsonl(tmp_path / "t.jsonl", [missing, mistyped, make_record(3)])
    report = ingest(store, [path])
    assert [(r.line, r.field) for r in report.rejects] == [(1, "base_commit"), (2, "PASS_TO_PASS")]
    assert "missing required field" in str(report.rejects[0])
    assert f"{path}:2:" in str(report.rejects[1]) and "PASS_TO_PASS" in str(report.rejects[1])
    assert store.count() == 1


def test_duplicate_id_inside_one_file(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [make_record(1), make_record(2), make_record(1, version="2.0")])
    report = ingest(store, [path])
    assert report.rejected == 1
    assert report.rejects[0].line == 3 and "first at line 1" in report.rejects[0].message
    assert store.get("acme__calc-1").version == "1.0"  # type: ignore[union-attr]


def test_patch_that_is_not_a_unified_diff(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [make_record(1, patch="replace line 3 with return a + b")])
    report = ingest(store, [path])
    assert report.rejects[0].field == "patch" and "unified diff" in report.rejects[0].message


def test_missing_file_is_reported_and_other_paths_still_ingested(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [make_record(1)])
    report = ingest(store, [tmp_path / "absent.jsonl", good])
    assert "absent.jsonl" in str(report.rejects[0]) and "no such file" in str(report.rejects[0])
    assert report.accepted == 1


def test_truncated_parquet_names_the_file(store: TaskStore, make_record: Any, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([make_record(n) for n in range(1, 50)]), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    report = ingest(store, [path])
    assert report.rejected == 1 and "t.parquet" in str(report.rejects[0])
    assert "Parquet" in report.rejects[0].message
    assert store.count() == 0


def test_strict_stores_nothing_when_anything_is_wrong(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [make_record(1), "[1, 2]", make_record(2)])
    report = ingest(store, [path], strict=True)
    assert report.rolled_back and report.rejected == 1
    assert "must be a JSON object" in str(report.rejects[0])
    assert store.count() == 0


def test_summary_counts_accepted_updated_unchanged_rejected(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    ingest(store, [write_jsonl(tmp_path / "a.jsonl", [make_record(1), make_record(2)])])
    again = [make_record(1), make_record(2, hints_text="new hint"), make_record(3), {"instance_id": "x"}]
    report = ingest(store, [write_jsonl(tmp_path / "b.jsonl", again)])
    assert report.summary() == {"accepted": 1, "updated": 1, "unchanged": 1, "rejected": 1, "stored": True}


def test_interrupted_ingest_leaves_the_store_as_it_was(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    ingest(store, [write_jsonl(tmp_path / "a.jsonl", [make_record(1)])])
    path = write_jsonl(tmp_path / "b.jsonl", [make_record(n) for n in range(2, 40)])
    seen = 0

    def ctrl_c(_: object) -> None:
        nonlocal seen
        seen += 1
        if seen == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(store, [path], progress=ctrl_c)
    assert store.count() == 1
    reopened = TaskStore(store.path)
    assert reopened.count() == 1


def test_rejects_file_keeps_the_records(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    bad = make_record(1, repo="nope")
    report = ingest(store, [write_jsonl(tmp_path / "t.jsonl", [bad])])
    out = tmp_path / "rejects.jsonl"
    write_rejects(report, out)
    row = json.loads(out.read_text())
    assert row["field"] == "repo" and row["record"] == bad and row["line"] == 1


def test_non_utf8_and_json_array_items(store: TaskStore, make_record: Any, tmp_path: Path) -> None:
    raw = tmp_path / "t.jsonl"
    raw.write_bytes(b'{"instance_id": "\xff"}\n')
    arr = tmp_path / "t.json"
    arr.write_text(json.dumps([make_record(1), {"instance_id": "only"}]))
    report = ingest(store, [raw, arr])
    assert "not UTF-8" in str(report.rejects[0])
    assert "[item 2]" in str(report.rejects[1])
    assert report.accepted == 1
