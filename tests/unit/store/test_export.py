from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envfarm.errors import ConfigError
from envfarm.store.export import export, safe_filename
from envfarm.store.ingest import ingest
from envfarm.store.tasks import TaskStore


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet", "dir", "swebench"])
def test_every_format_round_trips_through_ingest(
    fmt: str, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    records = [make_record(n, difficulty="easy") for n in range(1, 6)]
    web = {
        "kind": "web",
        "instance_id": "todo/add-item",
        "app": "todo",
        "instruction": "Add milk",
        "checklist": ["milk"],
    }
    with TaskStore(tmp_path / "a.db") as first:
        ingest(first, [write_jsonl(tmp_path / "in.jsonl", [*records, web])])
        out = tmp_path / f"out.{fmt}"
        written = export(first.iter_tasks(), out, fmt)
        originals = {t.instance_id: t.model_dump() for t in first.iter_tasks()}
    assert written == (5 if fmt == "swebench" else 6)
    src = out if fmt != "jsonl" and fmt != "swebench" else out.rename(out.with_suffix(".jsonl"))
    with TaskStore(tmp_path / "b.db") as second:
        report = ingest(second, [src])
        assert report.rejected == 0 and report.accepted == written
        for task in second.iter_tasks():
            assert task.model_dump() == originals[task.instance_id]


def test_folder_export_refuses_a_non_empty_folder(store: TaskStore, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an empty folder"):
        export(store.iter_tasks(), tmp_path, "dir")
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_unknown_format_and_safe_names(store: TaskStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown export format"):
        export(store.iter_tasks(), tmp_path / "x", "csv")
    assert safe_filename("../../etc/passwd") == "..__..__etc__passwd"
    assert "/" not in safe_filename("a/b/../c") and safe_filename("..") == "_.."


def test_swebench_rows_hold_json_encoded_test_lists(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    ingest(store, [write_jsonl(tmp_path / "in.jsonl", [make_record(1)])])
    export(store.iter_tasks(), tmp_path / "o.jsonl", "swebench")
    row = json.loads((tmp_path / "o.jsonl").read_text())
    assert row["FAIL_TO_PASS"] == '["tests/test_ops.py::test_add"]' and row["PASS_TO_PASS"] == "[]"
