from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from envfarm.errors import NotFoundError
from envfarm.models import TaskStatus, parse_task
from envfarm.store.ingest import ingest
from envfarm.store.keys import patch_fingerprint, pr_number
from envfarm.store.tasks import TaskFilter, TaskStore, Upsert


def test_upsert_is_idempotent_and_keeps_revisions(store: TaskStore, make_record: Any) -> None:
    task = parse_task(make_record())
    with store.transaction():
        assert store.upsert(task)[0] is Upsert.accepted
        assert store.upsert(task)[0] is Upsert.unchanged
    changed = parse_task(make_record(problem_statement="a clearer statement"))
    with store.transaction():
        assert store.upsert(changed)[0] is Upsert.updated
    revisions = store.revisions("acme__calc-1")
    assert [r["revision"] for r in revisions] == [1]
    assert revisions[0]["record"]["problem_statement"].startswith("add() subtracts")
    assert store.get("acme__calc-1").model_dump() == changed.model_dump()


def test_duplicates_by_patch_and_by_pull_request(store: TaskStore, make_record: Any) -> None:
    first = make_record(1)
    backport = make_record(2, patch=first["patch"].replace("@@ -1,2 +1,2 @@", "@@ -10,2 +10,2 @@"))
    same_pr = make_record(3, instance_id="acme__calc-1-again", envfarm={"source": {"pr_number": 1}})
    with store.transaction():
        store.upsert(parse_task(first))
        outcome, detail = store.upsert(parse_task(backport))
        assert outcome is Upsert.duplicate and "acme__calc-1" in detail
        outcome, detail = store.upsert(parse_task(same_pr))
        assert outcome is Upsert.duplicate and "pull request #1" in detail


def test_filters_text_search_and_counts(
    store: TaskStore, make_record: Any, write_jsonl: Any, tmp_path: Path
) -> None:
    records = [make_record(n) for n in range(1, 21)]
    records.append(
        make_record(99, repo="other/lib", instance_id="other__lib-99", problem_statement="Unicode crash ñ")
    )
    ingest(store, [write_jsonl(tmp_path / "t.jsonl", records)])
    assert store.count() == 21
    assert [t.instance_id for t in store.query(TaskFilter(repo="other/lib"))] == ["other__lib-99"]
    assert store.count(TaskFilter(text="crash")) == 1
    assert store.count(TaskFilter(text='case 7)"')) == 1  # FTS syntax is quoted, never interpreted
    assert store.count(TaskFilter(text="NEAR( OR *")) == 0
    assert store.count(TaskFilter(status="new", kind="swe")) == 21
    assert len(store.query(TaskFilter(), limit=5)) == 5
    assert len(list(store.iter_tasks(chunk=4))) == 21


def test_set_status_and_stats(store: TaskStore, make_record: Any) -> None:
    with store.transaction():
        store.upsert(parse_task(make_record()))
    store.set_status("acme__calc-1", TaskStatus.validated)
    stats = store.stats()
    assert stats["by_status"] == {"validated": 1} and stats["revisions"] == 1


def test_get_missing_task_names_it(store: TaskStore) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope")


def test_keys_are_pure_and_stable() -> None:
    assert patch_fingerprint("") is None
    assert pr_number("astropy__astropy-12907", "astropy/astropy", None) == 12907
    assert pr_number("calc-fix-1", "acme/calc", None) is None
    assert pr_number("anything", "acme/calc", 5) == 5


def test_task_json_is_stored_compressed_and_older_plain_rows_still_read(
    store: TaskStore, make_record: Any
) -> None:
    task = parse_task(make_record())
    with store.transaction():
        store.upsert(task)
    conn = sqlite3.connect(store.path)
    try:
        [(kind,)] = conn.execute("SELECT typeof(data) FROM task_blobs").fetchall()
        assert kind == "blob"
        # a store written before compression holds the JSON as text: it must still read back
        conn.execute("UPDATE task_blobs SET data = ?", (json.dumps(make_record()),))
        conn.commit()
    finally:
        conn.close()
    assert store.get("acme__calc-1").model_dump() == task.model_dump()
