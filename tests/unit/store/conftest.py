from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envfarm.store.tasks import TaskStore

PATCH = """diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""
TEST_PATCH = """diff --git a/tests/test_ops.py b/tests/test_ops.py
--- a/tests/test_ops.py
+++ b/tests/test_ops.py
@@ -1,1 +1,3 @@
 from calc.ops import add
+def test_add():
+    assert add(1, 2) == 3
"""


def make_record(n: int = 1, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "repo": "acme/calc",
        "instance_id": f"acme__calc-{n}",
        "base_commit": f"{n:040x}",
        "patch": PATCH.replace("a + b", f"a + b  # {n}"),
        "test_patch": TEST_PATCH,
        "problem_statement": f"add() subtracts instead of adding (case {n})",
        "hints_text": "",
        "created_at": f"2024-01-{(n % 28) + 1:02d}T00:00:00Z",
        "version": "1.0",
        "FAIL_TO_PASS": json.dumps(["tests/test_ops.py::test_add"]),
        "PASS_TO_PASS": "[]",
        "environment_setup_commit": f"{n:040x}",
    }
    record.update(overrides)
    return record


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TaskStore]:
    with TaskStore(tmp_path / "tasks.db") as s:
        yield s


@pytest.fixture(name="make_record")
def _make_record_fixture() -> Any:
    return make_record


@pytest.fixture(name="write_jsonl")
def _write_jsonl_fixture() -> Any:
    return write_jsonl
